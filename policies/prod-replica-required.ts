import { ofType, stackEnvironment, stackPolicy, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "prod-replica-required",
  description: "prod has a Neon read replica (a read_only endpoint) on its database branch.",
  why: "Without it the analytics reads land on the primary, and there is no warm compute to read from while the primary restarts.",
  enforcement: { prod: "mandatory", dev: "disabled", preview: "disabled" },
  remediation: "Set `neon.replica.enabled: true` in Pulumi.prod.yaml.",
};

export const prodReplicaRequired = stackPolicy(meta, ({ resources, notApplicable }, report) => {
  if (stackEnvironment(resources) !== "prod") notApplicable("prod only");
  const endpoints = ofType(resources, T.neonEndpoint);
  if (!endpoints.some((e) => e.props.type === "read_only")) report("prod declares no read_only Neon endpoint");
});
