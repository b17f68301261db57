import {
  at,
  endpointOf,
  knownStr,
  ofType,
  stackEnvironment,
  stackOutputs,
  stackPolicy,
  T,
  type PolicyMeta,
} from "./lib";

export const meta: PolicyMeta = {
  name: "analytics-on-replica",
  description:
    "Where the stack has a read replica, every Hyperdrive config the outputs mark `replica` points at it, and at least one worker reads through it.",
  why: "The analytics worker's timelines and aggregations scan millions of rows: on the primary they compete with the writes of every other worker.",
  enforcement: { prod: "mandatory", dev: "advisory", preview: "disabled" },
  remediation: "Set `readsReplica: true` on the analytics worker's `database` and keep `neon.replica.enabled: true`.",
};

export const analyticsOnReplica = stackPolicy(meta, ({ resources, notApplicable }, report) => {
  if (stackEnvironment(resources) === "preview") notApplicable("previews have no replica");
  const replicas = ofType(resources, T.neonEndpoint).filter((e) => e.props.type === "read_only");
  if (!replicas.length) return; // prod-replica-required says whether there must be one
  // Names and roles of the layout are known in a preview; hosts are not (lib.ts endpointOf).
  const layout = (stackOutputs(resources).hyperdrive ?? []) as { name: string; role: string }[];
  const replicaConfigs = layout.filter((h) => h.role === "replica");
  if (!replicaConfigs.length) report("the stack has a read replica but no Hyperdrive config reads from it");
  for (const h of replicaConfigs) {
    const config = ofType(resources, T.hyperdrive).find((c) => c.props.name === h.name);
    if (!config) {
      report(`replica config ${h.name} is in the outputs but the stack declares no such Hyperdrive config`);
      continue;
    }
    const host = knownStr(() => at(config.props, "origin", "host"));
    const endpoint = endpointOf(resources, config, { host, property: "origin" });
    if (!endpoint || !replicas.includes(endpoint)) {
      report(
        `replica config ${h.name} points at ${host ?? (endpoint ? `endpoint ${String(endpoint.props.name)}` : "no Neon endpoint")}, which is not a read replica`,
        config.urn,
      );
    }
  }
});
