/**
 * Pool utilization per worker: the connections its role holds on the primary (and on the replica for replica
 * readers), from `pg_stat_activity`, against the connections its Hyperdrive configs and Fly pools may open there.
 *
 * What the count is depends on the Hyperdrive origin (cloudflare.hyperdriveOrigin):
 * - `pooled` (the notes): Hyperdrive and the Fly workers are clients of Neon's PgBouncer, which the database never
 *   sees. What it sees are PgBouncer's server connections, under the worker's role: PgBouncer keeps one pool per
 *   user and database, sized default_pool_size = 0.9 x max_connections (Neon, "Connection pooling"). In
 *   transaction mode a server connection is taken for a transaction only, so the role's backend count is how far
 *   that pool has grown for the role (its active ones are the transactions in flight now); it can never exceed
 *   min(clients, pool size), which is the capacity here. Hyperdrive's own pool (its client connections to
 *   PgBouncer) is invisible from the database: Cloudflare shows its exhaustion only as failed queries
 *   (infra/monitor/hyperdrive.ts).
 * - `direct` (Cloudflare's Neon guide): every Hyperdrive origin connection is a backend of the worker's role, so the
 *   count is Hyperdrive's pool itself against its originConnectionLimit; the Fly workers still come through the
 *   pooler, so their share is counted as above and added.
 *
 * The capacities are the connection budget's (policies/connection-budget.ts): a Fly machine's pool is
 * node-postgres's default `max` (the workers set no DATABASE_POOL_MAX), a pooler pool is capped by pooledBackends
 * at the compute's minimum size (the smallest pool the compute can have).
 */
import { Client } from "pg";
import type { StackConfig } from "../config/schema";
import { entrySettings, hyperdriveLayout } from "../cloudflare/budget";
import { migratorRoleName } from "../neon/roles";
import { cloudName } from "../naming";
import { PG_POOL_DEFAULT_MAX, pooledBackends, poolSize } from "../../policies/connection-budget";
import { figure, notConfigured, percent, report, type Figure, type SignalReport } from "./signal";

export type Endpoint = "primary" | "replica";

export interface PoolCapacity {
  /** The catalogue worker (for a preview's shared config: `shared`). */
  worker: string;
  /** Its Postgres role: the usename its backends carry. */
  role: string;
  endpoint: Endpoint;
  /** The backends the role may hold on that endpoint. */
  capacity: number;
  /** How the capacity adds up, e.g. `Hyperdrive 10 + Fly crm-import 2 x 10, pooled: min(30, 93)`. */
  parts: string;
}

/** Each worker role's capacity on each endpoint it uses, from the stack config alone. */
export function poolCapacities(stack: string, config: StackConfig): PoolCapacity[] {
  const pooled = config.cloudflare.hyperdriveOrigin === "pooled";
  const out = new Map<string, PoolCapacity & { hyperdrive: number; fly: number; flyParts: string[] }>();
  const slot = (worker: string, role: string, endpoint: Endpoint) => {
    const key = `${role}/${endpoint}`;
    if (!out.has(key))
      out.set(key, { worker, role, endpoint, capacity: 0, parts: "", hyperdrive: 0, fly: 0, flyParts: [] });
    return out.get(key)!;
  };
  for (const entry of hyperdriveLayout(stack, config)) {
    const limit = entrySettings(config, entry).originConnectionLimit;
    // A preview's shared config connects as the migrator (infra/cloudflare/hyperdrive.ts credentialsOf).
    const role =
      entry.role === "shared" ? migratorRoleName(stack, config) : cloudName(stack, "pgRole", entry.workers[0]!);
    const s = slot(
      entry.role === "shared" ? "shared" : entry.workers[0]!,
      role,
      entry.role === "replica" ? "replica" : "primary",
    );
    s.hyperdrive += limit;
  }
  // Fly queue workers reach the primary through the pooler as their databaseRole (infra/fly/component.ts).
  for (const [name, q] of Object.entries(config.fly.queueWorkers)) {
    if (!q.databaseRole || q.count === 0) continue;
    const s = slot(q.databaseRole, cloudName(stack, "pgRole", q.databaseRole), "primary");
    s.fly += q.count * PG_POOL_DEFAULT_MAX;
    s.flyParts.push(`Fly ${name} ${q.count} x ${PG_POOL_DEFAULT_MAX}`);
  }
  return [...out.values()].map(({ hyperdrive, fly, flyParts, ...c }) => {
    const cu = (c.endpoint === "primary" ? config.neon.primary : config.neon.replica).minCu;
    const hd = hyperdrive ? [`Hyperdrive ${hyperdrive}`] : [];
    let capacity: number;
    let parts: string;
    if (pooled) {
      // Hyperdrive and Fly share the role's one PgBouncer pool.
      capacity = pooledBackends(hyperdrive + fly, cu);
      parts = `${[...hd, ...flyParts].join(" + ")}, through the pooler: min(${hyperdrive + fly}, pool ${poolSize(cu)} at ${cu} CU)`;
    } else {
      const flyBackends = fly ? pooledBackends(fly, cu) : 0;
      capacity = hyperdrive + flyBackends;
      parts = [
        ...hd.map((h) => `${h} direct`),
        ...(fly ? [`${flyParts.join(" + ")} through the pooler: ${flyBackends}`] : []),
      ].join(" + ");
    }
    return { ...c, capacity, parts };
  });
}

export interface RoleConnections {
  total: number;
  active: number;
  idleInTransaction: number;
  idle: number;
}

/**
 * The client backends of each role in the URL's database, by state (PostgreSQL "The Cumulative Statistics System",
 * pg_stat_activity: usename, datname, state, backend_type). Counting by usename works for any role; `state` of
 * another role's backend reads as null without pg_read_all_stats, so those count in `total` only.
 */
export async function roleConnections(url: string, roles: string[]): Promise<Map<string, RoleConnections>> {
  const client = new Client({
    connectionString: url,
    application_name: "mauntic-monitor",
    connectionTimeoutMillis: 10_000,
  });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ usename: string; state: string | null; n: number }>(
      `SELECT usename, state, count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND usename = ANY($1::text[])
        GROUP BY usename, state`,
      [roles],
    );
    const out = new Map<string, RoleConnections>();
    for (const role of roles) out.set(role, { total: 0, active: 0, idleInTransaction: 0, idle: 0 });
    for (const r of rows) {
      const c = out.get(r.usename)!;
      c.total += r.n;
      if (r.state === "active") c.active += r.n;
      else if (r.state === "idle in transaction" || r.state === "idle in transaction (aborted)")
        c.idleInTransaction += r.n;
      else if (r.state === "idle") c.idle += r.n;
    }
    return out;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PoolTargets {
  /** A URL on the primary's database, direct host (the pooler would show its own connection, not the backends). */
  primaryUrl?: string;
  replicaUrl?: string;
}

export async function poolSignal(stack: string, config: StackConfig, targets: PoolTargets): Promise<SignalReport> {
  if (!targets.primaryUrl) {
    return notConfigured(
      "pool",
      "no database URL: set MONITOR_DATABASE_URL, or let the monitor read the stack output databaseDirectUri",
    );
  }
  const capacities = poolCapacities(stack, config);
  const threshold = config.monitoring.poolUtilizationPct;
  const origin = config.cloudflare.hyperdriveOrigin;
  const figures: Figure[] = [];
  const unreached: string[] = [];
  for (const endpoint of ["primary", "replica"] as const) {
    const mine = capacities.filter((c) => c.endpoint === endpoint);
    if (!mine.length) continue;
    const url = endpoint === "primary" ? targets.primaryUrl : targets.replicaUrl;
    if (!url) {
      unreached.push(`${endpoint}: no URL (MONITOR_REPLICA_DATABASE_URL or the stack output databaseReplicaUri)`);
      continue;
    }
    const counts = await roleConnections(
      url,
      mine.map((c) => c.role),
    );
    for (const c of mine) {
      const n = counts.get(c.role)!;
      figures.push(
        figure({
          subject: `${c.worker} on the ${endpoint}`,
          measure: "pool utilization",
          value: percent(n.total, c.capacity),
          unit: "%",
          threshold,
          detail:
            `${n.total} of ${c.capacity} connections of ${c.role} (${n.active} active, ${n.idleInTransaction} idle in transaction, ${n.idle} idle); ` +
            `${origin === "pooled" ? "PgBouncer server connections" : "backends"}; capacity: ${c.parts}`,
          source: "pg_stat_activity (usename, state) on the " + endpoint,
        }),
      );
    }
  }
  const r = report("pool", figures);
  if (unreached.length) return { ...r, reason: unreached.join("; ") };
  return r;
}
