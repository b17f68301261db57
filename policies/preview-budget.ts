import { ofType, stackEnvironment, stackPolicy, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "preview-budget",
  description:
    "The previews allowed at once, each a branch of dev's Neon project, fit the Neon plan's branches per project next to the project's own branches.",
  why: "Past the plan's branch limit Neon refuses the next preview's branch, so the pull request gets no environment.",
  enforcement: { prod: "advisory", dev: "mandatory", preview: "mandatory" },
  remediation:
    "Lower `maxConcurrentPreviews`, shorten `preview.branchTtlHours` so old previews expire, or set `neonPlan` to the plan you pay for.",
};

/**
 * Branches per project by Neon plan: "10 per project on Launch, 25 on Scale"
 * (neon.com/faqs/database-providers-provision-postgres-user-signup); Free 10 (DESIGN.md, plan-limited 10/25).
 */
export const NEON_BRANCHES_PER_PROJECT = { free: 10, launch: 10, scale: 25 } as const;

export const configSchema = {
  properties: {
    maxConcurrentPreviews: {
      type: "integer" as const,
      minimum: 0,
      default: 5,
      description: "pr-<N> stacks alive at once",
    },
    neonPlan: { type: "string" as const, enum: ["free", "launch", "scale"], default: "launch" },
    /** dev's own branches besides previews (its default branch `main`). */
    devBranches: { type: "integer" as const, minimum: 1, default: 1 },
  },
};

export const previewBudget = stackPolicy(
  meta,
  ({ resources, getConfig, notApplicable }, report) => {
    // Previews branch dev's project: the budget is dev's (and each preview's own check).
    if (stackEnvironment(resources) === "prod") notApplicable("previews branch dev's project, not prod's");
    const c = getConfig<{
      maxConcurrentPreviews?: number;
      neonPlan?: keyof typeof NEON_BRANCHES_PER_PROJECT;
      devBranches?: number;
    }>();
    const plan = c.neonPlan ?? "launch";
    const limit = NEON_BRANCHES_PER_PROJECT[plan];
    const previews = c.maxConcurrentPreviews ?? 5;
    // dev's project branches it declares (its default branch) unless the pack config says more.
    const own = Math.max(c.devBranches ?? 1, ofType(resources, T.neonProject).length);
    if (own + previews > limit) {
      report(
        `${own} branch(es) of dev's project + ${previews} previews = ${own + previews} > Neon ${plan}'s ${limit} branches per project`,
      );
    }
  },
  configSchema,
);
