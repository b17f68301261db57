import type { PolicyResource } from "@pulumi/policy";
import {
  at,
  computeHost,
  declaredRoles,
  ofType,
  stackEnvironment,
  stackOutputs,
  stackPolicy,
  str,
  T,
  type PolicyMeta,
} from "./lib";

export const meta: PolicyMeta = {
  name: "hyperdrive-per-worker",
  description:
    "Each database worker has exactly one Hyperdrive config on the primary, logging in as its own role; each DB_REPLICA binding names a config on a read replica.",
  why: "A worker without its config cannot reach Postgres; two configs for one worker double its connections; a worker on another worker's role gets that worker's grants. Previews share one config (the account's Hyperdrive budget).",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "advisory" },
  remediation:
    "Give the worker a `database` section in the stack file (one config is derived per worker, plus `readsReplica: true` for a replica config); never declare HyperdriveConfig resources by hand.",
};

export const hyperdrivePerWorker = stackPolicy(meta, ({ resources }, report) => {
  const configs = ofType(resources, T.hyperdrive);
  if (stackEnvironment(resources) === "preview") {
    if (configs.length > 1)
      report(`a preview declares ${configs.length} Hyperdrive configs; previews get one shared config`);
    return;
  }
  const endpoints = ofType(resources, T.neonEndpoint);
  const hostsOf = (kind: string) =>
    new Set(
      endpoints
        .filter((e) => e.props.type === kind)
        .map((e) => str(e.props.host))
        .filter((h): h is string => !!h),
    );
  const primary = hostsOf("read_write");
  const replicas = hostsOf("read_only");
  const owner = new Set(ofType(resources, T.neonDatabase).map((d) => str(d.props.owner_name)));
  const workerRoles = declaredRoles(resources).filter((n) => !owner.has(n));
  const on = (c: PolicyResource, hosts: Set<string>) => hosts.has(computeHost(String(at(c.props, "origin", "host"))));

  for (const role of workerRoles) {
    const own = configs.filter((c) => at(c.props, "origin", "user") === role && on(c, primary));
    if (own.length !== 1) {
      report(`worker role ${role} has ${own.length} Hyperdrive configs on the primary (expected exactly 1)`);
    }
  }
  // Bindings (stack output): what each worker's wrangler config binds, by Hyperdrive config name.
  const bindings = (stackOutputs(resources).bindings ?? {}) as Record<
    string,
    { hyperdrive?: { binding: string; name: string }[] }
  >;
  for (const [worker, b] of Object.entries(bindings)) {
    for (const h of b.hyperdrive ?? []) {
      const config = configs.find((c) => c.props.name === h.name);
      if (!config) {
        report(`worker ${worker} binds ${h.binding} to Hyperdrive config ${h.name}, which the stack does not declare`);
        continue;
      }
      const want = h.binding === "DB_REPLICA" ? replicas : primary;
      if (!on(config, want)) {
        report(
          `worker ${worker}'s ${h.binding} config ${h.name} points at ${String(at(config.props, "origin", "host"))}, not the ${h.binding === "DB_REPLICA" ? "read replica" : "primary"}`,
          config.urn,
        );
      }
    }
  }
});
