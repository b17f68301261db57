import { ofType, stackEnvironment, stackOutputs, stackPolicy, str, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "preview-branch-ttl",
  description:
    "A preview's Neon branch expires (expires_at) within `maxDays` (30, Neon's cap), and its project comes from a stack other than prod (the stack output neonParentStack).",
  why: "A branch without expiry outlives its pull request and eats the project's branch budget; a branch of prod copies customer data into a preview.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "mandatory" },
  remediation: "Keep `preview.branchTtlHours` <= 720 and `preview.parentStack` pointing at dev.",
};

/** Neon caps a branch's expires_at at 30 days ahead (neon.com/docs/guides/branch-expiration). */
export const configSchema = {
  properties: { maxDays: { type: "integer" as const, minimum: 1, maximum: 30, default: 30 } },
};

export const previewBranchTtl = stackPolicy(
  meta,
  ({ resources, getConfig, notApplicable }, report) => {
    if (stackEnvironment(resources) !== "preview") notApplicable("preview stacks only");
    const maxDays = getConfig<{ maxDays?: number }>().maxDays ?? 30;
    // The project id is opaque, and the StackReference it was read from is a read: AnalyzeStack never gets it
    // (pulumi v3.248.0 pkg/resource/deploy/step_executor.go records reads apart from the news that
    // step_generator.go AnalyzeResources hands over). The stack outputs carry the parent stack instead
    // (infra/neon/component.ts `neonParentStack`), and the branch's project must be the one they name.
    const outputs = stackOutputs(resources);
    const parent = str(outputs.neonParentStack);
    const branches = ofType(resources, T.neonBranch);
    if (branches.length && !parent)
      report("the preview's stack outputs do not say which stack its Neon project comes from (neonParentStack)");
    if (parent && parent.split("/").pop() === "prod") {
      for (const b of branches)
        report(`preview branch ${String(b.props.name)} branches the project of ${parent}`, b.urn);
    }
    for (const b of branches) {
      const expires = str(b.props.expires_at);
      const at = expires ? Date.parse(expires) : NaN;
      if (Number.isNaN(at)) report(`preview branch ${String(b.props.name)} has no expires_at`, b.urn);
      else if (at - Date.now() > maxDays * 86_400_000) {
        report(`preview branch ${String(b.props.name)} expires ${expires}, more than ${maxDays} days ahead`, b.urn);
      }
    }
  },
  configSchema,
);
