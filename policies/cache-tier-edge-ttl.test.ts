import { describe, expect, it } from "vitest";
import { cacheTierEdgeTtl } from "./cache-tier-edge-ttl";
import { extraResource, named, planOf, verdicts, type Stack } from "./testing";

/**
 * The zone's cache-settings ruleset in the shape branch cloudflare declares it (infra/cloudflare/cache-settings.ts
 * there, 7e8e68c): one set_cache_settings rule per tier, described "cache tier <name>: ...".
 */
function cacheSettings(stack: Stack, zoneId: unknown, edge: Record<string, number | "bypass">) {
  return extraResource(stack, "cloudflare:index/ruleset:Ruleset", `mauntic-${stack}-cache-settings`, {
    kind: "zone",
    zoneId,
    phase: "http_request_cache_settings",
    rules: Object.entries(edge).map(([tier, e]) => ({
      description: `cache tier ${tier}: ${e === "bypass" ? "bypass" : `edge TTL ${e} s`}`,
      action: "set_cache_settings",
      enabled: true,
      actionParameters:
        e === "bypass"
          ? { cache: false }
          : {
              cache: true,
              edgeTtl: { mode: "override_origin", default: e, statusCodeTtls: [] },
              browserTtl: { mode: "respect_origin" },
            },
    })),
  });
}
const NOTES = {
  uploads: 86400,
  "landing-html": 60,
  "api-responses": "bypass",
  "tracking-pixel": "bypass",
  "template-previews": "bypass",
} as const;

describe("cache-tier-edge-ttl", () => {
  it("is quiet on today's pr-42 plan (previews own no zone ruleset)", async () => {
    expect(await verdicts(cacheTierEdgeTtl, planOf("pr-42"))).toEqual([]);
  });

  it.each(["dev", "prod"] as const)("is quiet on %s with the cache rules branch cloudflare adds", async (stack) => {
    const plan = planOf(stack);
    const zoneId = named(plan, `mauntic-${stack}-cache-headers`).outputs.zoneId;
    expect(await verdicts(cacheTierEdgeTtl, [...plan, cacheSettings(stack, zoneId, NOTES)])).toEqual([]);
  });

  it("fires for each cacheable tier no cache rule stores with an edge TTL", async () => {
    const plan = planOf("prod");
    const rs = named(plan, "mauntic-prod-cache-headers");
    const v = await verdicts(cacheTierEdgeTtl, [
      ...plan,
      cacheSettings("prod", rs.outputs.zoneId, { ...NOTES, "landing-html": "bypass" }),
    ]);
    expect(v).toEqual([
      {
        policy: "cache-tier-edge-ttl",
        enforcement: "advisory",
        urn: rs.urn,
        message:
          "cacheable tier landing-html has no cache rule (http_request_cache_settings) storing it with an edge TTL",
      },
    ]);
  });
});
