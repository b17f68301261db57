/**
 * Hosts and connection strings derived from Neon endpoints. URIs are built inside `pulumi.secret` so a password
 * never exists in an unsecret value.
 */
import * as pulumi from "@pulumi/pulumi";
import type { DatabaseConnection, RoleCredentials } from "./connection";

/** Neon's pooled (PgBouncer, transaction mode) host: the endpoint id, the first label, gets `-pooler`. */
export function poolerHost(host: string): string {
  const [first, ...rest] = host.split(".");
  if (!first || rest.length === 0) throw new Error(`'${host}' is not a Neon endpoint host (allowed: ep-....neon.tech)`);
  return first.endsWith("-pooler") ? host : [`${first}-pooler`, ...rest].join(".");
}

/** `postgresql://user:password@host:5432/db?sslmode=require`, as a secret. */
export function postgresUri(
  creds: RoleCredentials,
  host: pulumi.Input<string>,
  databaseName: pulumi.Input<string>,
  port = 5432,
): pulumi.Output<string> {
  return pulumi.secret(
    pulumi
      .all([creds.user, creds.password, host, databaseName])
      .apply(
        ([user, password, h, db]) =>
          `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${h}:${port}/${db}?sslmode=require`,
      ),
  );
}

/** A worker's own URI on the pooled host (Fly workers) or the replica (analytics readers). */
export function workerUri(
  connection: DatabaseConnection,
  worker: string,
  host: "pooled" | "direct" | "replica" = "pooled",
): pulumi.Output<string> {
  const creds = connection.workers[worker];
  if (!creds) {
    throw new Error(
      `no database role for worker '${worker}' (allowed: ${Object.keys(connection.workers).join(", ") || "none"})`,
    );
  }
  const h =
    host === "pooled" ? connection.pooledHost : host === "direct" ? connection.directHost : connection.replicaHost;
  if (!h) throw new Error(`worker '${worker}' asks for the replica, but this stack has none`);
  return postgresUri(creds, h, connection.databaseName, connection.port);
}
