import { describe, expect, it } from "vitest";
import { kvTtlBounds } from "./kv-ttl-bounds";
import { planOf, STACKS, verdicts } from "./testing";

const catalogOf = (plan: ReturnType<typeof planOf>) =>
  plan.find((r) => r.type === "pulumi:pulumi:Stack")!.outputs.kvCatalog as Record<string, Record<string, unknown>>;

describe("kv-ttl-bounds", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(kvTtlBounds, planOf(stack))).toEqual([]);
  });

  it("fires below Workers KV's 60 s minimum, above the safety net, and without an invalidating event", async () => {
    const plan = planOf("prod");
    const catalog = catalogOf(plan);
    catalog.usage!.ttlSeconds = 30;
    catalog.plan!.ttlSeconds = 86_400;
    catalog.org!.invalidatedOn = [];
    expect((await verdicts(kvTtlBounds, plan)).map((v) => v.message).sort()).toEqual([
      "cache key org (org:{orgId}) names no invalidating event",
      "cache key plan (plan:{planId}): ttlSeconds 86400 exceeds the 3600 s safety net",
      "cache key usage (usage:{orgId}:{resource}): ttlSeconds 30 is below Workers KV's 60 s minimum",
    ]);
  });

  it("reads its ceiling from the pack config", async () => {
    const v = await verdicts(kvTtlBounds, planOf("prod"), { "kv-ttl-bounds": { maxTtlSeconds: 900 } });
    expect(v.map((x) => x.message)).toEqual([
      "cache key plan (plan:{planId}): ttlSeconds 3600 exceeds the 900 s safety net",
    ]);
  });
});
