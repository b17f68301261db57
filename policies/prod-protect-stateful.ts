import { environmentOf, isFly, resourcePolicy, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "prod-protect-stateful",
  description:
    "In prod every resource that holds data (Neon project, branch, endpoints, roles, database; R2 buckets; KV namespaces; the Redis volume) is `protect`ed.",
  why: "A rename, a refactor or `pulumi destroy` would otherwise delete the customer database, the uploads or the queue's data, with no undo.",
  enforcement: { prod: "mandatory", dev: "disabled", preview: "disabled" },
  remediation:
    "Declare it with `protect: true` and `retainOnDelete: true` in prod (as infra/neon/component.ts does). The analyzer is not told retainOnDelete (AnalyzerResourceOptions has protect, not retainOnDelete): tests check it on the offline plan.",
};

const STATEFUL = new Set<string>([
  T.neonProject,
  T.neonBranch,
  T.neonEndpoint,
  T.neonRole,
  T.neonDatabase,
  T.r2Bucket,
  T.kvNamespace,
]);

export const prodProtectStateful = resourcePolicy(meta, ({ type, urn, opts, notApplicable }, report) => {
  if (!STATEFUL.has(type) && !isFly(type, "Volume")) return notApplicable("applies to stateful resources");
  if (environmentOf(urn) !== "prod") return notApplicable("prod only");
  if (!opts.protect) report("a stateful prod resource must be declared with protect: true");
});
