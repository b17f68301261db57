import { describe, expect, it } from "vitest";
import { previewBranchTtl } from "./preview-branch-ttl";
import { named, planOf, STACKS, verdicts } from "./testing";

describe("preview-branch-ttl", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(previewBranchTtl, planOf(stack))).toEqual([]);
  });

  it("fires on a branch with no expiry, one past 30 days, and one of prod's project", async () => {
    const plan = planOf("pr-42");
    const branch = named(plan, "mauntic-pr-42-neon-branch");
    delete branch.outputs.expires_at;
    expect((await verdicts(previewBranchTtl, plan)).map((v) => v.message)).toEqual([
      "preview branch mauntic-pr-42 has no expires_at",
    ]);

    branch.outputs.expires_at = new Date(Date.now() + 31 * 86_400_000).toISOString();
    expect((await verdicts(previewBranchTtl, plan))[0]?.message).toMatch(/expires .*, more than 30 days ahead$/);

    branch.outputs.expires_at = new Date(Date.now() + 86_400_000).toISOString();
    const ref = plan.find((r) => r.type === "pulumi:pulumi:StackReference")!;
    expect(branch.dependencies).toContain(ref.urn);
    ref.outputs.name = "mauntic/mauntic-infra/prod";
    expect(await verdicts(previewBranchTtl, plan)).toEqual([
      {
        policy: "preview-branch-ttl",
        enforcement: "mandatory",
        urn: branch.urn,
        message: "preview branch mauntic-pr-42 branches the project of mauntic/mauntic-infra/prod",
      },
    ]);
  });
});
