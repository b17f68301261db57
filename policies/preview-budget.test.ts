import { describe, expect, it } from "vitest";
import { NEON_BRANCHES_PER_PROJECT, previewBudget } from "./preview-budget";
import { planOf, STACKS, verdicts } from "./testing";

describe("preview-budget", () => {
  it("pins Neon's branches per project (10 on Launch, 25 on Scale)", () => {
    expect(NEON_BRANCHES_PER_PROJECT).toEqual({ free: 10, launch: 10, scale: 25 });
  });

  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(previewBudget, planOf(stack))).toEqual([]);
  });

  it("fires when 10 previews and dev's main branch exceed Launch's 10 branches; Scale's 25 fits them", async () => {
    const over = await verdicts(previewBudget, planOf("dev"), {
      "preview-budget": { enforcementLevel: "mandatory", maxConcurrentPreviews: 10 },
    });
    expect(over.map((v) => [v.enforcement, v.message])).toEqual([
      ["mandatory", "1 branch(es) of dev's project + 10 previews = 11 > Neon launch's 10 branches per project"],
    ]);
    expect(
      await verdicts(previewBudget, planOf("dev"), {
        "preview-budget": { maxConcurrentPreviews: 10, neonPlan: "scale" },
      }),
    ).toEqual([]);
  });
});
