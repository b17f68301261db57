import {
  cacheRulesOf,
  header,
  NEVER_STORED,
  RESPONSE_HEADERS_PHASE,
  CACHE_SETTINGS_PHASE,
  tierOf,
  type Rule,
} from "./cache-tiers";
import { at, ofType, stackPolicy, str, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "cache-tier-edge-ttl",
  description:
    "Every cacheable tier served straight from R2 (a header rule on an R2 custom domain's host, Cache-Control that lets shared caches store) has a cache rule (phase http_request_cache_settings) that stores it with an edge TTL. Worker-served tiers get their edge TTL in the Worker's cf settings, not here.",
  why: 'A response-header transform rule "will not change the way Cloudflare caches an object" (developers.cloudflare.com/rules/transform/response-header-modification): without a cache rule, uploads go to R2 on every request and CDN-Cache-Control is only a header. On a Worker-served host a cache rule would not act (edge-cache-rule-host), so none is required there.',
  enforcement: { prod: "advisory", dev: "advisory", preview: "advisory" },
  remediation:
    "Let the zone's owning stack declare the cache-settings ruleset with one set_cache_settings rule per tier (infra/cloudflare).",
};

export const cacheTierEdgeTtl = stackPolicy(meta, ({ resources }, report) => {
  const rulesets = ofType(resources, T.ruleset);
  const cacheRules = cacheRulesOf(rulesets);
  const r2Hosts = ofType(resources, T.r2CustomDomain)
    .map((d) => str(d.props.domain))
    .filter((d): d is string => !!d);
  const servedByR2 = (expr: string) => {
    const hosts = [...expr.matchAll(/http\.host (?:eq|wildcard) "([^"]+)"/g)].map((m) => m[1]!);
    return hosts.length > 0 && hosts.every((h) => r2Hosts.some((d) => h === d || h === `pr-*-${d}`));
  };
  for (const rs of rulesets.filter((r) => r.props.phase === RESPONSE_HEADERS_PHASE)) {
    for (const rule of (rs.props.rules ?? []) as Rule[]) {
      const cc = header(rule, "Cache-Control");
      const value = cc?.operation === "set" ? (cc.value ?? "") : "";
      if (rule.enabled === false || !value || NEVER_STORED.test(value)) continue;
      if (!servedByR2(rule.expression ?? "")) continue;
      const tier = tierOf(rule);
      const params = cacheRules.find((c) => tierOf(c) === tier)?.actionParameters;
      const ttl = at(params, "edgeTtl") as { mode?: string; default?: number } | undefined;
      if (params?.cache !== true || ttl?.mode !== "override_origin" || !(Number(ttl.default) > 0)) {
        report(
          `cacheable tier ${tier} has no cache rule (${CACHE_SETTINGS_PHASE}) storing it with an edge TTL`,
          rs.urn,
        );
      }
    }
  }
});
