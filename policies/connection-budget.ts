import type { PolicyResource } from "@pulumi/policy";
import {
  at,
  endpointOf,
  isFly,
  isPoolerHost,
  known,
  knownStr,
  ofType,
  stackPolicy,
  str,
  T,
  UNKNOWN,
  uriHost,
  type PolicyMeta,
} from "./lib";

export const meta: PolicyMeta = {
  name: "connection-budget",
  description:
    "At each compute's minimum size, the Postgres backends that Hyperdrive, the Fly workers and the migrator can open fit under Neon's max_connections minus its 7 reserved.",
  why: "Autoscaling starts from the minimum size; past max_connections new connections are refused, so a busy worker locks every other worker (and the migrator) out of the database.",
  enforcement: { prod: "mandatory", dev: "advisory", preview: "advisory" },
  remediation:
    "Lower the workers' hyperdrive.originConnectionLimit or the Fly workers' pools, move them to the pooler, or raise the compute's minCu.",
};

/**
 * max_connections per compute size (CU), and the 7 connections reserved for Neon's superuser: Neon's "Connection
 * pooling" page (neon.com/docs/connect/connection-pooling), table "Compute size (CU) | RAM | max_connections";
 * 9 CU and above are capped at 4000.
 */
export const MAX_CONNECTIONS: Record<string, number> = {
  "0.25": 104,
  "0.5": 209,
  "1": 419,
  "2": 839,
  "3": 1258,
  "4": 1678,
  "5": 2098,
  "6": 2517,
  "7": 2937,
  "8": 3357,
};
export const RESERVED_CONNECTIONS = 7;
export function maxConnections(cu: number): number {
  if (cu >= 9) return 4000;
  const n = MAX_CONNECTIONS[String(cu)];
  if (n === undefined) throw new Error(`no max_connections figure for ${cu} CU`);
  return n;
}
/** The pooler's PgBouncer pool per user and database: 90% of max_connections (same page). */
export const poolSize = (cu: number) => Math.floor(0.9 * maxConnections(cu));
/**
 * The backends a PgBouncer pool of one user and database opens for `clients` client connections: one per client
 * at most, and at most its pool (transaction mode). The monitor's pool capacities use it too (infra/monitor/pool.ts).
 */
export const pooledBackends = (clients: number, cu: number) => Math.min(clients, poolSize(cu));
/** The migration runner holds its session plus a progress monitor (migrations/runner/runner.ts). */
export const MIGRATOR_CONNECTIONS = 2;
/**
 * A Fly worker machine's pool: its env DATABASE_POOL_MAX, else node-postgres Pool's default `max` of 10
 * (node-postgres.com/apis/pool).
 */
export const PG_POOL_DEFAULT_MAX = 10;

interface Demand {
  /** Pool key parts; undefined when the preview does not know them yet. */
  user?: string;
  database?: string;
  /** The endpoint the clients reach (by host, else by where their connection string came from). */
  endpoint?: PolicyResource;
  /** Through Neon's pooler; undefined when the host is unknown (preview): then counted one for one. */
  pooled?: boolean;
  connections: number;
  what: string;
}

/** A postgres:// URI's database: its path without the leading slash. */
const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/**
 * Every client of a Neon compute, from what a preview knows: sizes, pool limits and role names are inputs; hosts
 * and connection strings are outputs of the dynamic Neon resources and unknown in a preview of a change, so the
 * endpoint comes from where the value came from (lib.ts endpointOf).
 */
function demands(resources: PolicyResource[]): Demand[] {
  const out: Demand[] = [];
  for (const c of ofType(resources, T.hyperdrive)) {
    const host = knownStr(() => at(c.props, "origin", "host"));
    out.push({
      user: knownStr(() => at(c.props, "origin", "user")),
      database: knownStr(() => at(c.props, "origin", "database")),
      endpoint: endpointOf(resources, c, { host, property: "origin" }),
      pooled: host === undefined ? undefined : isPoolerHost(host),
      connections: Number(c.props.originConnectionLimit ?? 20),
      what: `Hyperdrive ${String(c.props.name)}`,
    });
  }
  for (const cmd of ofType(resources, T.command)) {
    const url = known(() => at(cmd.props, "environment", "DATABASE_URL"));
    if (url === undefined) continue;
    const host = typeof url === "string" ? uriHost(url) : undefined;
    if (url !== UNKNOWN && !host) continue;
    // The migrator writes: among the endpoints its environment came from, the read_write one.
    out.push({
      ...(host
        ? { user: decodeURIComponent(new URL(url as string).username), database: databaseOf(url as string) }
        : {}),
      endpoint: endpointOf(resources, cmd, { host, property: "environment", prefer: "read_write" }),
      pooled: host === undefined ? undefined : isPoolerHost(host),
      connections: MIGRATOR_CONNECTIONS,
      what: "the migrator",
    });
  }
  // Fly workers (branch fly): DATABASE_URL is an app secret (fly:Secrets `values`), every machine of the app opens
  // its own pool; a URL in a machine's plain env counts the same way.
  const machines = resources.filter((r) => isFly(r.type, "Machine"));
  const poolOf = (m: PolicyResource) => {
    const max = known(() => at(m.props, "config", "env", "DATABASE_POOL_MAX"));
    return max === UNKNOWN || max === undefined ? PG_POOL_DEFAULT_MAX : Number(max);
  };
  const flyDemand = (source: PolicyResource, property: string, url: unknown, ms: PolicyResource[], what: string) => {
    if (!ms.length) return;
    const host = typeof url === "string" ? uriHost(url) : undefined;
    const connections = ms.reduce((a, m) => a + poolOf(m), 0);
    if (host) {
      out.push({
        user: decodeURIComponent(new URL(url as string).username),
        database: databaseOf(url as string),
        endpoint: endpointOf(resources, source, { host }),
        pooled: isPoolerHost(host),
        connections,
        what: `${what} (${ms.length} machine(s))`,
      });
      return;
    }
    if (url !== UNKNOWN) return;
    // Unknown in a preview: the secrets were made from a Neon role and an endpoint (the app's DATABASE_URL).
    const from = source.propertyDependencies?.[property]?.length
      ? source.propertyDependencies[property]!
      : source.dependencies;
    const role = from.find((d) => d.type === T.neonRole || d.type === T.loginRole);
    const endpoint = role ? endpointOf(resources, source, { property }) : undefined;
    if (!endpoint) return;
    out.push({
      user: knownStr(() => role!.props.name),
      endpoint,
      connections,
      what: `${what} (${ms.length} machine(s))`,
    });
  };
  for (const s of resources.filter((r) => isFly(r.type, "Secrets"))) {
    const app = knownStr(() => s.props.app_name);
    const values = known(() => s.props.values);
    const url = values === UNKNOWN ? UNKNOWN : known(() => at(values, "DATABASE_URL"));
    flyDemand(
      s,
      "values",
      url,
      machines.filter((m) => knownStr(() => m.props.app_name) === app),
      `Fly app ${app}`,
    );
  }
  for (const m of machines) {
    const url = known(() => at(m.props, "config", "env", "DATABASE_URL"));
    if (typeof url === "string") flyDemand(m, "config", url, [m], `Fly machine ${m.name}`);
  }
  return out;
}

export const connectionBudget = stackPolicy(meta, ({ resources }, report) => {
  const all = demands(resources);
  for (const ep of ofType(resources, T.neonEndpoint)) {
    const cu = Number(ep.props.autoscaling_limit_min_cu);
    const limit = maxConnections(cu) - RESERVED_CONNECTIONS;
    const here = all.filter((d) => d.endpoint === ep);
    // Clients of the pooler are not backends: PgBouncer (transaction mode) opens at most one backend per client
    // connection and at most its pool per user and database, so each pool counts min(its clients, poolSize). Pools
    // are separate and add up: Neon's listed PgBouncer settings set no max_db_connections (pgbouncer.org/config:
    // default 0, unlimited). Direct connections are backends one for one. Where a preview does not know the host
    // yet (pooler or not) nor the pool's user and database, the clients count one for one: an upper bound, since a
    // pool never opens more backends than it has clients.
    const pools = new Map<string, number>();
    let total = 0;
    for (const d of here) {
      if (d.pooled !== true || d.user === undefined || d.database === undefined) total += d.connections;
      else pools.set(`${d.user}/${d.database}`, (pools.get(`${d.user}/${d.database}`) ?? 0) + d.connections);
    }
    for (const clients of pools.values()) total += pooledBackends(clients, cu);
    if (total > limit) {
      const unknownHosts = here.some((d) => d.pooled === undefined);
      report(
        `${String(ep.props.name)} at its minimum ${cu} CU allows ${limit} connections (max_connections ${maxConnections(cu)} - ${RESERVED_CONNECTIONS} reserved); ` +
          `its clients can open ${total}: ${here.map((d) => `${d.what} ${d.connections}${d.user ? ` as ${d.user}` : ""}`).join(", ")}` +
          (unknownHosts ? " (hosts unknown in this preview: each client counted one for one)" : ""),
        ep.urn,
      );
    }
  }
});
