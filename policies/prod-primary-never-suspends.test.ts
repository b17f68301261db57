import { describe, expect, it } from "vitest";
import { prodPrimaryNeverSuspends } from "./prod-primary-never-suspends";
import { named, planOf, STACKS, verdicts } from "./testing";

describe("prod-primary-never-suspends", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(prodPrimaryNeverSuspends, planOf(stack))).toEqual([]);
  });

  it("fires when prod's primary suspends after Neon's default (0 = 5 minutes)", async () => {
    const plan = planOf("prod");
    const primary = named(plan, "mauntic-prod-neon-primary");
    primary.inputs.suspend_timeout_seconds = 0;
    expect(await verdicts(prodPrimaryNeverSuspends, plan)).toEqual([
      {
        policy: "prod-primary-never-suspends",
        enforcement: "mandatory",
        urn: primary.urn,
        message: "suspend_timeout_seconds is 0; prod's primary must be -1",
      },
    ]);
  });
});
