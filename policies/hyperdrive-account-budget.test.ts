import { describe, expect, it } from "vitest";
import { HYPERDRIVE_ACCOUNT_LIMIT } from "../infra/cloudflare/limits";
import { hyperdriveAccountBudget } from "./hyperdrive-account-budget";
import { planOf, STACKS, verdicts } from "./testing";

const stackOf = (plan: ReturnType<typeof planOf>) => plan.find((r) => r.type === "pulumi:pulumi:Stack")!;

describe("hyperdrive-account-budget", () => {
  it("pins Cloudflare's per-account limits (developers.cloudflare.com/hyperdrive/platform/limits)", () => {
    expect(HYPERDRIVE_ACCOUNT_LIMIT).toEqual({ paid: 25, free: 10 });
  });

  it.each(STACKS)("is quiet on today's %s plan with the committed pack config", async (stack) => {
    expect(await verdicts(hyperdriveAccountBudget, planOf(stack))).toEqual([]);
  });

  it("fires when the allowed previews no longer fit: 12 + 14 > 25", async () => {
    const v = await verdicts(hyperdriveAccountBudget, planOf("dev"), {
      "hyperdrive-account-budget": { enforcementLevel: "mandatory", maxConcurrentPreviews: 14 },
    });
    expect(v).toEqual([
      {
        policy: "hyperdrive-account-budget",
        enforcement: "mandatory",
        message: "dev + prod take 12 Hyperdrive configs and 14 previews take 14: 26 > the paid plan's 25 per account",
      },
    ]);
  });

  it("fires on the free plan's 10 with today's 12 committed configs", async () => {
    const plan = planOf("prod");
    (stackOf(plan).outputs.hyperdriveBudget as Record<string, unknown>).plan = "free";
    const v = await verdicts(hyperdriveAccountBudget, plan);
    expect(v.map((x) => x.message)).toEqual([
      "dev + prod take 12 Hyperdrive configs and 5 previews take 5: 17 > the free plan's 10 per account",
    ]);
  });
});
