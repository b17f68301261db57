import { describe, expect, it } from "vitest";
import { T } from "./lib";
import { previewBranchTtl } from "./preview-branch-ttl";
import { named, planOf, STACKS, verdicts } from "./testing";

const DAY = 86_400_000;

describe("preview-branch-ttl", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(previewBranchTtl, planOf(stack))).toEqual([]);
  });

  it("fires on a branch with no expiry, and at 30 days ahead is quiet where a minute more fires", async () => {
    const plan = planOf("pr-42");
    const branch = named(plan, "mauntic-pr-42-neon-branch");
    delete branch.outputs.expires_at;
    expect((await verdicts(previewBranchTtl, plan)).map((v) => v.message)).toEqual([
      "preview branch mauntic-pr-42 has no expires_at",
    ]);
    // The limit is checked against the clock when the policy runs: leave a minute for the run itself.
    branch.outputs.expires_at = new Date(Date.now() + 30 * DAY - 60_000).toISOString();
    expect(await verdicts(previewBranchTtl, plan)).toEqual([]);
    branch.outputs.expires_at = new Date(Date.now() + 30 * DAY + 60_000).toISOString();
    expect((await verdicts(previewBranchTtl, plan))[0]?.message).toMatch(/expires .*, more than 30 days ahead$/);
    // A stricter maxDays from the pack config: 2 days is fine at 2, not at 3.
    branch.outputs.expires_at = new Date(Date.now() + 2 * DAY - 60_000).toISOString();
    expect(await verdicts(previewBranchTtl, plan, { "preview-branch-ttl": { maxDays: 2 } })).toEqual([]);
    branch.outputs.expires_at = new Date(Date.now() + 3 * DAY).toISOString();
    expect((await verdicts(previewBranchTtl, plan, { "preview-branch-ttl": { maxDays: 2 } }))[0]?.message).toMatch(
      /more than 2 days ahead$/,
    );
  });

  it("judges the parent from what the engine hands the pack: the stack output, never the StackReference (a read)", async () => {
    const plan = planOf("pr-42");
    const branch = named(plan, "mauntic-pr-42-neon-branch");
    const root = plan.find((r) => r.type === T.stack)!;
    expect(root.outputs.neonParentStack).toBe("mauntic/mauntic-infra/dev");
    // The StackReference is recorded as a read: pointing it at prod changes nothing the pack sees.
    const ref = plan.find((r) => r.type === "pulumi:pulumi:StackReference")!;
    expect(ref.read).toBe(true);
    ref.outputs.name = "mauntic/mauntic-infra/prod";
    expect(await verdicts(previewBranchTtl, plan)).toEqual([]);
    // The stack output naming prod fires, on the branch.
    root.outputs.neonParentStack = "mauntic/mauntic-infra/prod";
    expect(await verdicts(previewBranchTtl, plan)).toEqual([
      {
        policy: "preview-branch-ttl",
        enforcement: "mandatory",
        urn: branch.urn,
        message: "preview branch mauntic-pr-42 branches the project of mauntic/mauntic-infra/prod",
      },
    ]);
    // And a preview whose outputs do not say where its project comes from cannot pass.
    delete root.outputs.neonParentStack;
    expect((await verdicts(previewBranchTtl, plan)).map((v) => v.message)).toEqual([
      "the preview's stack outputs do not say which stack its Neon project comes from (neonParentStack)",
    ]);
  });
});
