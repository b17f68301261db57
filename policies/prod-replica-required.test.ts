import { describe, expect, it } from "vitest";
import { prodReplicaRequired } from "./prod-replica-required";
import { planOf, STACKS, verdicts } from "./testing";

describe("prod-replica-required", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(prodReplicaRequired, planOf(stack))).toEqual([]);
  });

  it("fires on prod without a read_only endpoint, and not on dev without one", async () => {
    const noReplica = (stack: "prod" | "dev") =>
      planOf(stack).filter((r) => r.name !== `mauntic-${stack}-neon-replica`);
    expect(await verdicts(prodReplicaRequired, noReplica("prod"))).toEqual([
      {
        policy: "prod-replica-required",
        enforcement: "mandatory",
        message: "prod declares no read_only Neon endpoint",
      },
    ]);
    expect(await verdicts(prodReplicaRequired, noReplica("dev"))).toEqual([]);
  });
});
