import { describe, expect, it } from "vitest";
import { CACHE_SETTINGS_PHASE, type Rule } from "./cache-tiers";
import { cacheTierEdgeTtl } from "./cache-tier-edge-ttl";
import { named, planOf, STACKS, verdicts } from "./testing";

/** The real cache-settings rule of a tier (infra/cloudflare declares one per tier, described "cache tier <name>: ..."). */
const cacheRule = (plan: ReturnType<typeof planOf>, stack: string, tier: string) => {
  const rs = named(plan, `mauntic-${stack}-cache-settings`);
  expect(rs.outputs.phase).toBe(CACHE_SETTINGS_PHASE);
  const rule = (rs.outputs.rules as Rule[]).find((r) => r.description?.startsWith(`cache tier ${tier}:`));
  if (!rule) throw new Error(`no cache rule for tier ${tier} in mauntic-${stack}-cache-settings`);
  return rule;
};

describe("cache-tier-edge-ttl", () => {
  it.each(STACKS)(
    "is quiet on today's %s plan (dev and prod declare the R2 host's cache rule, previews own none)",
    async (stack) => {
      expect(await verdicts(cacheTierEdgeTtl, planOf(stack))).toEqual([]);
    },
  );

  it("fires for an R2-served cacheable tier no cache rule stores with an edge TTL", async () => {
    const plan = planOf("prod");
    const rs = named(plan, "mauntic-prod-cache-headers");
    const finding = (tier: string) => ({
      policy: "cache-tier-edge-ttl",
      enforcement: "advisory",
      urn: rs.urn,
      message: `cacheable tier ${tier} has no cache rule (http_request_cache_settings) storing it with an edge TTL`,
    });
    // The uploads tier's rule stores but leaves the TTL to the origin: no edge TTL of its own.
    const uploads = cacheRule(plan, "prod", "uploads");
    uploads.actionParameters = { ...uploads.actionParameters, edgeTtl: { mode: "respect_origin" } };
    expect(await verdicts(cacheTierEdgeTtl, plan)).toEqual([finding("uploads")]);
    // Turned into a bypass: stored nowhere at the edge.
    uploads.actionParameters = { cache: false };
    expect(await verdicts(cacheTierEdgeTtl, plan)).toEqual([finding("uploads")]);
  });

  it("asks no cache rule of a header rule on a Worker-served host (the Worker's cf settings carry its edge TTL)", async () => {
    const plan = planOf("prod");
    const rs = named(plan, "mauntic-prod-cache-headers");
    const rules = rs.outputs.rules as Rule[];
    const uploads = rules.find((r) => r.description?.startsWith("cache tier uploads"))!;
    // The same cacheable header rule on the content worker's host: no zone cache rule is required for it.
    rules.push({
      ...uploads,
      description: "cache tier landing-html",
      expression: uploads.expression!.replace("assets.mauntic.io", "pages.mauntic.io"),
    });
    expect(await verdicts(cacheTierEdgeTtl, plan)).toEqual([]);
    // While the R2 host's own rule without a cache rule still fires.
    const settings = named(plan, "mauntic-prod-cache-settings");
    settings.outputs.rules = [];
    expect((await verdicts(cacheTierEdgeTtl, plan)).map((v) => v.message)).toEqual([
      "cacheable tier uploads has no cache rule (http_request_cache_settings) storing it with an edge TTL",
    ]);
  });
});
