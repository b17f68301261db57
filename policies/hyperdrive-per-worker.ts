import type { PolicyResource } from "@pulumi/policy";
import {
  at,
  declaredRoles,
  endpointOf,
  knownStr,
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
  // Which endpoint a config reaches: its host when known, else the endpoint its origin came from (a preview of a
  // change does not know hosts: lib.ts endpointOf). Endpoint types and role names are inputs, known in previews.
  const endpointType = (c: PolicyResource) =>
    knownStr(() => {
      const host = knownStr(() => at(c.props, "origin", "host"));
      return endpointOf(resources, c, { host, property: "origin" })?.props.type;
    });
  const on = (c: PolicyResource, kind: "read_write" | "read_only") => endpointType(c) === kind;
  const owner = new Set(ofType(resources, T.neonDatabase).map((d) => knownStr(() => d.props.owner_name)));
  const workerRoles = declaredRoles(resources).filter((n) => !owner.has(n));

  for (const role of workerRoles) {
    const own = configs.filter((c) => knownStr(() => at(c.props, "origin", "user")) === role && on(c, "read_write"));
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
      const want = h.binding === "DB_REPLICA" ? "read_only" : "read_write";
      if (!on(config, want)) {
        const host = knownStr(() => at(config.props, "origin", "host"));
        report(
          `worker ${worker}'s ${h.binding} config ${h.name} points at ${host ?? `a ${endpointType(config) ?? "non-Neon"} endpoint`}, not the ${h.binding === "DB_REPLICA" ? "read replica" : "primary"}`,
          config.urn,
        );
      }
    }
  }
});
