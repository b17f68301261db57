import { describe, expect, it } from "vitest";
import { CACHE_SETTINGS_PHASE, type Rule } from "./cache-tiers";
import { edgeCacheRuleHost } from "./edge-cache-rule-host";
import { named, planOf, STACKS, verdicts } from "./testing";

/** A cache rule for a tier on `host`, shaped as infra/cloudflare declares them. */
const ruleOn = (tier: string, host: string): Rule => ({
  ref: `mauntic-prod-edge-${tier}`,
  description: `cache tier ${tier}: edge TTL 60 s`,
  expression: `http.host eq "${host}" and http.request.uri.path strict wildcard "/*"`,
  action: "set_cache_settings",
  actionParameters: { cache: true, edgeTtl: { mode: "override_origin", default: 60 } },
  enabled: true,
});

describe("edge-cache-rule-host", () => {
  it.each(STACKS)("is quiet on today's %s plan (cache rules only on the R2 custom domain)", async (stack) => {
    expect(await verdicts(edgeCacheRuleHost, planOf(stack))).toEqual([]);
  });

  it("fires for a cache rule on a Worker-served host, naming the Worker, and on a host nobody serves", async () => {
    const plan = planOf("prod");
    const rs = named(plan, "mauntic-prod-cache-settings");
    expect(rs.outputs.phase).toBe(CACHE_SETTINGS_PHASE);
    const rules = rs.outputs.rules as Rule[];
    // The landing tier as it was declared before: a zone rule on the content worker's host.
    rules.push(ruleOn("landing-html", "pages.mauntic.io"), ruleOn("stray", "www.mauntic.io"));
    const finding = (tier: string, host: string, who: string) => ({
      policy: "edge-cache-rule-host",
      enforcement: "mandatory",
      urn: rs.urn,
      message: `cache rule for tier ${tier} names ${host}, which ${who}: the rule never acts there (R2-served hosts: assets.mauntic.io)`,
    });
    expect(await verdicts(edgeCacheRuleHost, plan)).toEqual([
      finding("landing-html", "pages.mauntic.io", "Worker content serves"),
      finding("stray", "www.mauntic.io", "no R2 custom domain serves"),
    ]);
  });

  it("dev: a rule on a preview's Worker host (pr-*-<host>) fires; the preview form of the R2 host does not", async () => {
    const plan = planOf("dev");
    const rs = named(plan, "mauntic-dev-cache-settings");
    const rules = rs.outputs.rules as Rule[];
    const preview = (tier: string, host: string): Rule => ({
      ...ruleOn(tier, host),
      expression: `(http.host eq "${host}" or http.host wildcard "pr-*-${host}")`,
    });
    rules.push(preview("uploads-again", "assets.mauntic.dev"), preview("pixel", "t.mauntic.dev"));
    expect((await verdicts(edgeCacheRuleHost, plan)).map((v) => v.message)).toEqual([
      "cache rule for tier pixel names t.mauntic.dev, which Worker delivery serves: the rule never acts there (R2-served hosts: assets.mauntic.dev)",
      "cache rule for tier pixel names pr-*-t.mauntic.dev, which Worker delivery serves: the rule never acts there (R2-served hosts: assets.mauntic.dev)",
    ]);
  });
});
