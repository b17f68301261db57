import { describe, expect, it } from "vitest";
import { cacheTiers, type Rule } from "./cache-tiers";
import { named, planOf, STACKS, verdicts } from "./testing";

const rulesOf = (plan: ReturnType<typeof planOf>, stack: string) => {
  const rs = named(plan, `mauntic-${stack}-cache-headers`);
  return { rs, rules: rs.outputs.rules as Rule[] };
};
const tier = (rules: Rule[], name: string) => rules.find((r) => r.description?.startsWith(`cache tier ${name}`))!;
/**
 * A rule for a tier on `host`, as a stack declaring zone rules for it would have it: today's plans declare zone rules
 * for the R2-served uploads tier only (the Workers' tiers are in their edge-cache modules), so the policy's findings
 * on other tiers are shown on a copy of the uploads rule moved to that tier and host.
 */
const ruleFor = (rules: Rule[], name: string, host: string, cacheControl: string): Rule => {
  const uploads = tier(rules, "uploads");
  const rule = structuredClone(uploads);
  rule.description = `cache tier ${name}`;
  rule.expression = uploads.expression!.replace(/assets\.mauntic\.(io|dev)/g, host);
  if (rule.actionParameters && "headers" in rule.actionParameters) {
    rule.actionParameters = { headers: { "Cache-Control": { operation: "set", value: cacheControl } } };
  } else {
    rule.actionParameters = { cache: false };
  }
  rules.push(rule);
  return rule;
};
const headers = (r: Rule) =>
  (r.actionParameters as { headers: Record<string, { operation: string; value?: string }> }).headers;

describe("cache-tiers", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(cacheTiers, planOf(stack))).toEqual([]);
  });

  it("fires when a tier on a host that is not content-hashed is immutable", async () => {
    const plan = planOf("prod");
    const { rs, rules } = rulesOf(plan, "prod");
    headers(ruleFor(rules, "landing-html", "pages.mauntic.io", "public, max-age=300"))["Cache-Control"] = {
      operation: "set",
      value: "public, max-age=31536000, immutable",
    };
    expect(await verdicts(cacheTiers, plan)).toEqual([
      {
        policy: "cache-tiers",
        enforcement: "mandatory",
        urn: rs.urn,
        message:
          "tier landing-html sets immutable on pages.mauntic.io, not only on content-hashed upload hosts (assets.mauntic.io)",
      },
    ]);
  });

  it("fires when the pixel tier gets a CDN TTL or a cache rule stores a private tier", async () => {
    const plan = planOf("dev");
    const { rules } = rulesOf(plan, "dev");
    ruleFor(rules, "api-responses", "api.mauntic.dev", "private, no-store");
    headers(ruleFor(rules, "tracking-pixel", "t.mauntic.dev", "no-cache, no-store"))["CDN-Cache-Control"] = {
      operation: "set",
      value: "max-age=60",
    };
    // A cache-settings rule for api-responses (a bypass) turned into one that stores the tier.
    const settings = named(plan, "mauntic-dev-cache-settings");
    const api = ruleFor(settings.outputs.rules as Rule[], "api-responses", "api.mauntic.dev", "");
    expect(api.actionParameters).toEqual({ cache: false });
    api.actionParameters = { cache: true };
    expect((await verdicts(cacheTiers, plan)).map((v) => v.message)).toEqual([
      "tier api-responses is private, no-store but its cache rule stores it at the edge",
      "tier tracking-pixel is no-cache, no-store but sets CDN-Cache-Control max-age=60",
    ]);
  });

  it("fires when a preview owns a zone ruleset, or one stack declares two for a zone and phase", async () => {
    const dev = planOf("dev");
    const copy = structuredClone(named(dev, "mauntic-dev-cache-headers"));
    const preview = {
      ...copy,
      urn: copy.urn.replace("urn:pulumi:dev::", "urn:pulumi:pr-42::"),
      name: "mauntic-pr-42-cache-headers",
      outputs: { ...copy.outputs, rules: [] },
    };
    const v = await verdicts(cacheTiers, [...planOf("pr-42"), preview]);
    expect(v.map((x) => x.message)).toEqual([
      "a preview owns zone ruleset http_response_headers_transform; the zone's owning stack (dev) serves previews",
    ]);
    const twice = { ...copy, urn: `${copy.urn}-2`, name: "mauntic-dev-cache-headers-2" };
    expect((await verdicts(cacheTiers, [...dev, twice])).map((x) => x.message)).toEqual([
      `zone ${String(copy.outputs.zoneId)} has 2 http_response_headers_transform entrypoint rulesets in one stack: mauntic-dev-cache-headers, mauntic-dev-cache-headers-2`,
    ]);
  });
});
