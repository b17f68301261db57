import { stackPolicy, type PolicyMeta } from "./lib";
import { stackOutputs, ofType, T } from "./lib";
import { HYPERDRIVE_ACCOUNT_LIMIT } from "../infra/cloudflare/limits";

export const meta: PolicyMeta = {
  name: "hyperdrive-account-budget",
  description:
    "dev + prod + the previews allowed at once fit the Cloudflare account's Hyperdrive limit (25 configs on paid plans, 10 on free).",
  why: "Hyperdrive configs are counted per account: once dev and prod use the room, the next preview's `pulumi up` fails half-way through creating its stack.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "mandatory" },
  remediation:
    "Lower `maxConcurrentPreviews` in the pack config, or reduce configs per stack (fewer database workers, no replica config), or move to the paid plan.",
};

export const configSchema = {
  properties: {
    maxConcurrentPreviews: {
      type: "integer" as const,
      minimum: 0,
      default: 5,
      description: "pr-<N> stacks alive at once",
    },
  },
};

interface Budget {
  plan?: "paid" | "free";
  committed?: Record<string, number>;
  previewConfigsEach?: number;
  thisStack?: number;
}

export const hyperdriveAccountBudget = stackPolicy(
  meta,
  ({ resources, getConfig }, report) => {
    const budget = stackOutputs(resources).hyperdriveBudget as Budget | undefined;
    if (!budget?.plan) return; // a stack with no Cloudflare account has nothing to count
    const previews = getConfig<{ maxConcurrentPreviews?: number }>().maxConcurrentPreviews ?? 5;
    const declared = ofType(resources, T.hyperdrive).length;
    if (budget.thisStack !== declared) {
      report(
        `the hyperdriveBudget output counts ${budget.thisStack} configs for this stack, which declares ${declared}`,
      );
    }
    const committed = Object.values(budget.committed ?? {}).reduce((a, n) => a + n, 0);
    const need = committed + previews * (budget.previewConfigsEach ?? 1);
    const limit = HYPERDRIVE_ACCOUNT_LIMIT[budget.plan];
    if (need > limit) {
      report(
        `dev + prod take ${committed} Hyperdrive configs and ${previews} previews take ${need - committed}: ${need} > the ${budget.plan} plan's ${limit} per account`,
      );
    }
  },
  configSchema,
);
