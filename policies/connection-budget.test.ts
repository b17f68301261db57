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
    expect(v[0]!.message).toMatch(
      /^mauntic-pr-42-primary at its minimum 0.25 CU allows 97 connections \(max_connections 104 - 7 reserved\); its clients can open 98: /,
    );
    expect(v[0]!.urn).toBe(named(plan, "mauntic-pr-42-neon-primary").urn);
  });

  it("through the pooler a role's backends stop at its pool (90% of max_connections): 96 asked, 93 + 2 <= 97", async () => {
    const plan = planOf("pr-42");
    const shared = named(plan, "mauntic-pr-42-shared-db");
    shared.outputs.originConnectionLimit = 96;
    expect(await verdicts(connectionBudget, plan)).toEqual([]);
  });

  it("counts each Fly worker machine's pool (node-postgres default 10) for its app's DATABASE_URL secret", async () => {
    const plan = planOf("pr-42");
    const primary = named(plan, "mauntic-pr-42-neon-primary");
    const host = String(primary.outputs.host);
    const shared = named(plan, "mauntic-pr-42-shared-db");
    plain(shared.outputs.origin).host = host; // direct: every connection is a backend
    shared.outputs.originConnectionLimit = 85;
    expect(await verdicts(connectionBudget, plan)).toEqual([]); // 85 + 2 <= 97
    // As branch fly declares a queue worker: the app's secrets hold DATABASE_URL, each machine runs a pool.
    const app = "mauntic-pr-42-delivery-sender";
    const secrets = extraResource("pr-42", "pulumi-nodejs:dynamic/fly:Secrets", `${app}-secrets`, {
      app_name: app,
      values: {
        DATABASE_URL: `postgresql://mauntic_pr_42_delivery:pw@${host}/mauntic`,
        REDIS_URL: "redis://:pw@r.internal:6379",
      },
    });
    const machine = (i: number, env: Record<string, string> = {}) =>
      extraResource("pr-42", "pulumi-nodejs:dynamic/fly:Machine", `${app}-machine-${i}`, {
        app_name: app,
        config: { image: "registry.fly.io/mauntic-workers:1", env, metadata: { mauntic_role: "queue-worker" } },
      });
    expect(isFly(secrets.type, "Secrets")).toBe(true);
    expect(await verdicts(connectionBudget, [...plan, secrets, machine(0)])).toEqual([]); // 85 + 10 + 2 = 97
    const v = await verdicts(connectionBudget, [...plan, secrets, machine(0), machine(1, { DATABASE_POOL_MAX: "4" })]);
    expect(v.map((x) => x.message)).toEqual([
      expect.stringMatching(
        /its clients can open 101: .*Fly app mauntic-pr-42-delivery-sender \(2 machine\(s\)\) 14 as mauntic_pr_42_delivery/,
      ),
    ]);
  });
});
