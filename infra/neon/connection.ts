/**
 * What the Neon component hands to everything downstream (Cloudflare Hyperdrive, Fly workers, the post-deploy
 * migrations). Hosts are plain (policy checks read them); passwords and URIs are secret from the moment they exist.
 */
import type * as pulumi from "@pulumi/pulumi";

export interface RoleCredentials {
  /** Postgres role name, from cloudName(stack, "pgRole", ...). */
  user: pulumi.Output<string>;
  /** Secret. */
  password: pulumi.Output<string>;
}

export interface DatabaseConnection {
  databaseName: string;
  port: 5432;
  /** The primary read_write endpoint's host (migrations: session locks and SET need it). */
  directHost: pulumi.Output<string>;
  /** `<endpoint>-pooler` host: PgBouncer in transaction mode (Hyperdrive origins, Fly workers). */
  pooledHost: pulumi.Output<string>;
  /** The read_only endpoint's host, when the stack has a replica. */
  replicaHost?: pulumi.Output<string>;
  /**
   * Secret URIs, all three as the migrator (owner) role. The one on the direct host is what the post-deploy step
   * runs with. A worker's own URI: `postgresUri(workers[w], host, databaseName)` in ./uri.ts.
   */
  directUri: pulumi.Output<string>;
  pooledUri: pulumi.Output<string>;
  replicaUri?: pulumi.Output<string>;
  migrator: RoleCredentials;
  /** One login role per catalogue worker that has `database`. */
  workers: Record<string, RoleCredentials>;
}
