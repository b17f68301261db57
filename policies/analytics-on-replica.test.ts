import { describe, expect, it } from "vitest";
import { analyticsOnReplica } from "./analytics-on-replica";
import { named, plain, planOf, STACKS, verdicts } from "./testing";

describe("analytics-on-replica", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(analyticsOnReplica, planOf(stack))).toEqual([]);
  });

  it("fires when the replica config reads from the primary", async () => {
    const plan = planOf("dev");
    const replica = named(plan, "mauntic-dev-analytics-replica-db");
    const primaryHost = plain(named(plan, "mauntic-dev-crm-db").outputs.origin).host;
    plain(replica.outputs.origin).host = primaryHost;
    const v = await verdicts(analyticsOnReplica, plan);
    expect(v).toEqual([
      {
        policy: "analytics-on-replica",
        enforcement: "mandatory",
        urn: replica.urn,
        message: `replica config mauntic-dev-analytics-replica-db points at ${String(primaryHost)}, which is not a read replica`,
      },
    ]);
  });

  it("fires when the stack has a replica that nothing reads", async () => {
    const plan = planOf("prod");
    const stack = plan.find((r) => r.type === "pulumi:pulumi:Stack")!;
    stack.outputs.hyperdrive = (stack.outputs.hyperdrive as { role: string }[]).filter((h) => h.role !== "replica");
    expect((await verdicts(analyticsOnReplica, plan)).map((v) => v.message)).toEqual([
      "the stack has a read replica but no Hyperdrive config reads from it",
    ]);
  });
});
