import { at, isPoolerHost, resourcePolicy, str, T, uriHost, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "migrations-direct-endpoint",
  description:
    "The post-deploy migrations connect to the primary's direct (unpooled) host, never to Neon's `-pooler` host.",
  why: "The runner's advisory lock and SET lock_timeout do not survive PgBouncer's transaction mode, and CREATE INDEX CONCURRENTLY cannot run in the transaction the pooler wraps: migrations through the pooler race each other or fail half-built.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "mandatory" },
  remediation: "Pass the Neon component's `directUri` (never `pooledUri`) to the post-deploy step (infra/postdeploy).",
};

export const migrationsDirectEndpoint = resourcePolicy(meta, ({ type, props, notApplicable }, report) => {
  if (type !== T.command || !/\bmigrate\b/.test(String(props.create ?? ""))) {
    return notApplicable("applies to the post-deploy migrations command");
  }
  const url = str(at(props, "environment", "DATABASE_URL"));
  const host = url ? uriHost(url) : undefined;
  if (!host) report("the migrations command has no postgres DATABASE_URL");
  else if (isPoolerHost(host)) report(`the migrations connect to ${host}, Neon's pooler; use the direct host`);
});
