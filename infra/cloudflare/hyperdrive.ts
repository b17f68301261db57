/**
 * Hyperdrive: one config per database worker, pointing at Neon with the worker's own login role, plus a second
 * config on the read replica for replica readers (analytics). Preview stacks get one shared config instead
 * (budget.ts explains why).
 *
 * Origin mode (`cloudflare.hyperdriveOrigin`, per stack):
 * - `pooled` (default, the platform notes): Neon's PgBouncer `-pooler` host in transaction mode. Hyperdrive's
 *   connections are multiplexed again by PgBouncer, so many Hyperdrive connections cost few Postgres backends
 *   (default_pool_size is 0.9 x max_connections), at the price of transaction-mode limits: no session state, no
 *   session advisory locks, prepared statements only as PgBouncer supports them.
 * - `direct` (Cloudflare's Neon guide): the endpoint itself. Hyperdrive already pools, so this skips a second
 *   pooler hop and keeps session semantics, but every Hyperdrive origin connection is a Postgres backend: the sum
 *   of origin connection limits must stay under the compute's max_connections (104 at 0.25 CU).
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig, WorkerDatabaseConfig } from "../config/schema";
import type { DatabaseConnection, RoleCredentials } from "../neon/connection";
import { poolerHost } from "../neon/hosts";
import { databaseWorkers, entrySettings, hyperdriveLayout, type HyperdriveRole } from "./budget";

export interface HyperdriveArgs {
  stack: string;
  /** Cloudflare account that owns the configs (`cloudflare.accountId`). */
  accountId: string;
  /** `cloudflare.hyperdriveOrigin`: the Neon pooler (default) or the endpoint itself. */
  origin: StackConfig["cloudflare"]["hyperdriveOrigin"];
  /** The validated stack config (workers, replica switch, stack kind decide the layout). */
  config: StackConfig;
  /** The Neon component's hosts and per-worker credentials. */
  connection: DatabaseConnection;
  /**
   * What must exist before a config is created: Cloudflare connects to the origin when it creates a config, so the
   * database and the roles must be there (pass the Neon component; the hosts alone carry only the endpoint).
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** One declared config, as the plan and the bindings need it. */
export interface HyperdriveEntry {
  name: string;
  role: HyperdriveRole;
  workers: string[];
  id: pulumi.Output<string>;
  host: pulumi.Output<string>;
  user: pulumi.Output<string>;
}

/** Hyperdrive's caching block from a worker's config (`maxAge` and `staleWhileRevalidate` only when enabled). */
export function cachingOf(caching: WorkerDatabaseConfig["hyperdrive"]["caching"]): {
  disabled: boolean;
  maxAge?: number;
  staleWhileRevalidate?: number;
} {
  if (!caching.enabled) return { disabled: true };
  return { disabled: false, maxAge: caching.maxAgeSeconds, staleWhileRevalidate: caching.staleWhileRevalidateSeconds };
}

export class WorkerHyperdrive extends pulumi.ComponentResource {
  /** Every declared config, primary ones first per worker. */
  readonly entries: HyperdriveEntry[];
  /** The config each worker binds as `DB`, and as `DB_REPLICA` when it reads the replica. */
  readonly byWorker: Record<string, { db: HyperdriveEntry; replica?: HyperdriveEntry }>;

  constructor(name: string, args: HyperdriveArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mauntic:cloudflare:Hyperdrive", name, {}, opts);
    const { connection, config } = args;
    const settings = Object.fromEntries(databaseWorkers(config));
    const primaryHost = args.origin === "pooled" ? connection.pooledHost : connection.directHost;

    const credentialsOf = (role: HyperdriveRole, workers: string[]): RoleCredentials => {
      // Previews: no role has every worker's grants, so the shared config connects as the migrator (schema
      // owner) of the throwaway branch; grant mistakes show in dev, which has per-worker roles.
      const creds = role === "shared" ? connection.migrator : connection.workers[workers[0]!];
      if (!creds) {
        throw new Error(
          `the Neon connection has no credentials for worker '${workers[0]}' (it has: ${Object.keys(connection.workers).join(", ") || "none"})`,
        );
      }
      return creds;
    };
    const hostOf = (role: HyperdriveRole): pulumi.Output<string> => {
      if (role !== "replica") return primaryHost;
      if (!connection.replicaHost) throw new Error("a replica reader needs the Neon connection's replicaHost");
      // The contract carries the replica's endpoint host only; Neon's pooler rule (neon/hosts.ts) gives its pooler.
      return args.origin === "pooled" ? connection.replicaHost.apply(poolerHost) : connection.replicaHost;
    };

    this.entries = hyperdriveLayout(args.stack, config).map((entry) => {
      const creds = credentialsOf(entry.role, entry.workers);
      const host = hostOf(entry.role);
      const hd = entrySettings(config, entry);
      const resource = new cloudflare.HyperdriveConfig(
        entry.name,
        {
          accountId: args.accountId,
          name: entry.name,
          origin: {
            scheme: "postgresql",
            host,
            port: connection.port,
            database: connection.databaseName,
            user: creds.user,
            password: pulumi.secret(creds.password),
          },
          caching: cachingOf(hd.caching),
          originConnectionLimit: hd.originConnectionLimit,
        },
        { parent: this, dependsOn: args.dependsOn },
      );
      return { ...entry, id: resource.id, host, user: creds.user };
    });

    this.byWorker = {};
    for (const e of this.entries) {
      for (const w of e.workers) {
        const slot = (this.byWorker[w] ??= { db: e });
        if (e.role === "replica") slot.replica = e;
        // A preview's shared config serves the replica binding too, so worker code reads DB_REPLICA unchanged.
        if (e.role === "shared" && settings[w]!.readsReplica) slot.replica = e;
      }
    }
    this.registerOutputs({ configs: this.entries.map((e) => ({ name: e.name, role: e.role, id: e.id })) });
  }
}
