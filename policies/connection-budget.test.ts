import { describe, expect, it } from "vitest";
import { connectionBudget, maxConnections, poolSize } from "./connection-budget";
import { isFly } from "./lib";
import { extraResource, named, plain, planOf, STACKS, verdicts } from "./testing";

describe("connection-budget", () => {
  it("pins Neon's max_connections per compute size (neon.com/docs/connect/connection-pooling)", () => {
    expect([0.25, 0.5, 1, 2, 4, 8, 9, 16].map(maxConnections)).toEqual([104, 209, 419, 839, 1678, 3357, 4000, 4000]);
    expect(poolSize(0.25)).toBe(93);
  });

  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(connectionBudget, planOf(stack))).toEqual([]);
  });

  it("fires on a preview at 0.25 CU whose shared config goes direct with 95 connections (+2 for the migrator > 97)", async () => {
    const plan = planOf("pr-42");
    const shared = named(plan, "mauntic-pr-42-shared-db");
    const origin = plain(shared.outputs.origin);
    origin.host = String(origin.host).replace("-pooler.", ".");
    shared.outputs.originConnectionLimit = 96;
    const v = await verdicts(connectionBudget, plan);
    expect(v).toHaveLength(1);
    expect(v[0]!.message).toMatch(/^mauntic-pr-42-primary at its minimum 0.25 CU allows 97 connections \(max_connections 104 - 7 reserved\); its clients can open 98: /);
    expect(v[0]!.urn).toBe(named(plan, "mauntic-pr-42-neon-primary").urn);
  });

  it("through the pooler a role's backends stop at its pool (90% of max_connections): 96 asked, 93 + 2 <= 97", async () => {
    const plan = planOf("pr-42");
    const shared = named(plan, "mauntic-pr-42-shared-db");
    shared.outputs.originConnectionLimit = 96;
    expect(await verdicts(connectionBudget, plan)).toEqual([]);
  });

  it("counts a Fly worker's pool (node-postgres default 10) on the primary", async () => {
    const plan = planOf("pr-42");
    const primary = named(plan, "mauntic-pr-42-neon-primary");
    const host = String(primary.outputs.host);
    const shared = named(plan, "mauntic-pr-42-shared-db");
    plain(shared.outputs.origin).host = host;
    shared.outputs.originConnectionLimit = 90;
    expect(await verdicts(connectionBudget, plan)).toEqual([]); // 90 + 2 <= 97
    const machine = extraResource("pr-42", "pulumi-nodejs:dynamic/fly:Machine", "mauntic-pr-42-sender", {
      config: { image: "registry.fly.io/mauntic-worker:1", env: { DATABASE_URL: `postgresql://mauntic_pr_42_delivery:pw@${host}/mauntic` } },
    });
    expect(isFly(machine.type, "Machine")).toBe(true);
    const v = await verdicts(connectionBudget, [...plan, machine]);
    expect(v[0]?.message).toContain("its clients can open 102");
  });
});
