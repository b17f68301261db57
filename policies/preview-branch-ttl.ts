import { ofType, stackEnvironment, stackPolicy, str, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "preview-branch-ttl",
  description:
    "A preview's Neon branch expires (expires_at) within `maxDays` (30, Neon's cap), and its project comes from a stack other than prod.",
  why: "A branch without expiry outlives its pull request and eats the project's branch budget; a branch of prod copies customer data into a preview.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "mandatory" },
  remediation: "Keep `preview.branchTtlHours` <= 720 and `preview.parentStack` pointing at dev.",
};

/** Neon caps a branch's expires_at at 30 days ahead (neon.com/docs/guides/branch-expiration). */
export const configSchema = {
  properties: { maxDays: { type: "integer" as const, minimum: 1, maximum: 30, default: 30 } },
};
export const STACK_REFERENCE = "pulumi:pulumi:StackReference";

export const previewBranchTtl = stackPolicy(
  meta,
  ({ resources, getConfig, notApplicable }, report) => {
    if (stackEnvironment(resources) !== "preview") notApplicable("preview stacks only");
    const maxDays = getConfig<{ maxDays?: number }>().maxDays ?? 30;
    for (const b of ofType(resources, T.neonBranch)) {
      const expires = str(b.props.expires_at);
      const at = expires ? Date.parse(expires) : NaN;
      if (Number.isNaN(at)) report(`preview branch ${String(b.props.name)} has no expires_at`, b.urn);
      else if (at - Date.now() > maxDays * 86_400_000) {
        report(`preview branch ${String(b.props.name)} expires ${expires}, more than ${maxDays} days ahead`, b.urn);
      }
      // The project id is opaque: where it came from is the StackReference the branch depends on.
      for (const ref of b.dependencies.filter((d) => d.type === STACK_REFERENCE)) {
        const name = String(ref.props.name ?? ref.name);
        if (name.split("/").pop() === "prod") {
          report(`preview branch ${String(b.props.name)} branches the project of ${name}`, b.urn);
        }
      }
    }
  },
  configSchema,
);
