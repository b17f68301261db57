/**
 * Connection strings on Neon endpoint hosts (the hosts themselves: ./hosts.ts). URIs are built inside
 * `pulumi.secret` so a password never exists in an unsecret value.
 */
import * as pulumi from "@pulumi/pulumi";
import type { RoleCredentials } from "./connection";

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
