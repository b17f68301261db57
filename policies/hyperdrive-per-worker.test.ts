import { describe, expect, it } from "vitest";
import { hyperdrivePerWorker } from "./hyperdrive-per-worker";
import { named, plain, planOf, STACKS, verdicts } from "./testing";

describe("hyperdrive-per-worker", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(hyperdrivePerWorker, planOf(stack))).toEqual([]);
  });

  it("fires when a worker's config logs in as another worker's role", async () => {
    const plan = planOf("prod");
    plain(named(plan, "mauntic-prod-crm-db").outputs.origin).user = "mauntic_prod_identity";
    const v = await verdicts(hyperdrivePerWorker, plan);
    expect(v.map((x) => x.message)).toEqual([
      "worker role mauntic_prod_identity has 2 Hyperdrive configs on the primary (expected exactly 1)",
      "worker role mauntic_prod_crm has 0 Hyperdrive configs on the primary (expected exactly 1)",
    ]);
    expect(v.every((x) => x.enforcement === "mandatory")).toBe(true);
  });

  it("fires when the analytics worker's DB_REPLICA config points at the primary", async () => {
    const plan = planOf("prod");
    const replica = named(plan, "mauntic-prod-analytics-replica-db");
    const primary = named(plan, "mauntic-prod-analytics-db");
    plain(replica.outputs.origin).host = plain(primary.outputs.origin).host;
    const v = await verdicts(hyperdrivePerWorker, plan);
    expect(v.map((x) => x.message)).toEqual([
      // on the primary now, it is the analytics role's second config there
      "worker role mauntic_prod_analytics has 2 Hyperdrive configs on the primary (expected exactly 1)",
      `worker analytics's DB_REPLICA config mauntic-prod-analytics-replica-db points at ${String(plain(primary.outputs.origin).host)}, not the read replica`,
    ]);
    expect(v[1]!.urn).toBe(replica.urn);
  });
});
