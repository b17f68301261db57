import type { PolicyResource } from "@pulumi/policy";
import { at, computeHost, isFly, isPoolerHost, ofType, stackPolicy, str, T, uriHost, type PolicyMeta } from "./lib";

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
  user: string;
  database: string;
  host: string;
  connections: number;
  what: string;
}

/** A postgres:// URI's database: its path without the leading slash. */
const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

function demands(resources: PolicyResource[]): Demand[] {
  const out: Demand[] = [];
  for (const c of ofType(resources, T.hyperdrive)) {
    out.push({
      user: String(at(c.props, "origin", "user")),
      database: String(at(c.props, "origin", "database")),
      host: String(at(c.props, "origin", "host")),
      connections: Number(c.props.originConnectionLimit ?? 20),
      what: `Hyperdrive ${String(c.props.name)}`,
    });
  }
  for (const cmd of ofType(resources, T.command)) {
    const url = str(at(cmd.props, "environment", "DATABASE_URL"));
    const host = url && uriHost(url);
    if (host)
      out.push({
        user: decodeURIComponent(new URL(url!).username),
        database: databaseOf(url!),
        host,
        connections: MIGRATOR_CONNECTIONS,
        what: "the migrator",
      });
  }
  // Fly workers (branch fly): DATABASE_URL is an app secret (fly:Secrets `values`), every machine of the app opens
  // its own pool; a URL in a machine's plain env counts the same way.
  const machines = resources.filter((r) => isFly(r.type, "Machine"));
  const poolOf = (m: PolicyResource) =>
    Number(at(m.props, "config", "env", "DATABASE_POOL_MAX") ?? PG_POOL_DEFAULT_MAX);
  const flyDemand = (url: string | undefined, ms: PolicyResource[], what: string) => {
    const host = url ? uriHost(url) : undefined;
    if (!host || !ms.length) return;
    const connections = ms.reduce((a, m) => a + poolOf(m), 0);
    out.push({
      user: decodeURIComponent(new URL(url!).username),
      database: databaseOf(url!),
      host,
      connections,
      what: `${what} (${ms.length} machine(s))`,
    });
  };
  for (const s of resources.filter((r) => isFly(r.type, "Secrets"))) {
    const app = str(s.props.app_name);
    flyDemand(
      str(at(s.props, "values", "DATABASE_URL")),
      machines.filter((m) => m.props.app_name === app),
      `Fly app ${app}`,
    );
  }
  for (const m of machines) flyDemand(str(at(m.props, "config", "env", "DATABASE_URL")), [m], `Fly machine ${m.name}`);
  return out;
}

export const connectionBudget = stackPolicy(meta, ({ resources }, report) => {
  const all = demands(resources);
  for (const ep of ofType(resources, T.neonEndpoint)) {
    const host = str(ep.props.host);
    if (!host) continue;
    const cu = Number(ep.props.autoscaling_limit_min_cu);
    const limit = maxConnections(cu) - RESERVED_CONNECTIONS;
    const here = all.filter((d) => computeHost(d.host) === host);
    // Clients of the pooler are not backends: PgBouncer (transaction mode) opens at most one backend per client
    // connection and at most its pool per user and database, so each pool counts min(its clients, poolSize). Pools
    // are separate and add up: Neon's listed PgBouncer settings set no max_db_connections (pgbouncer.org/config:
    // default 0, unlimited). Direct connections are backends one for one.
    const pools = new Map<string, number>();
    let total = 0;
    for (const d of here) {
      if (!isPoolerHost(d.host)) total += d.connections;
      else pools.set(`${d.user}/${d.database}`, (pools.get(`${d.user}/${d.database}`) ?? 0) + d.connections);
    }
    for (const clients of pools.values()) total += pooledBackends(clients, cu);
    if (total > limit) {
      report(
        `${String(ep.props.name)} at its minimum ${cu} CU allows ${limit} connections (max_connections ${maxConnections(cu)} - ${RESERVED_CONNECTIONS} reserved); ` +
          `its clients can open ${total}: ${here.map((d) => `${d.what} ${d.connections} as ${d.user}`).join(", ")}`,
        ep.urn,
      );
    }
  }
});
