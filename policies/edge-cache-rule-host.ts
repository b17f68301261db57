import { CACHE_SETTINGS_PHASE, cacheRulesOf, tierOf } from "./cache-tiers";
import { ofType, stackOutputs, stackPolicy, str, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "edge-cache-rule-host",
  description:
    "Edge cache rules (phase http_request_cache_settings) name only hosts that R2 serves straight through the cache (a bucket's custom domain), never a Worker-served host.",
  why: 'A request to a Worker-served host reaches the Worker before the cache is checked; cache rules then apply only to the Worker\'s own fetch() subrequests, and the Worker\'s cf settings override them (developers.cloudflare.com/cache/interaction-cloudflare-products/workers-cache-rules). A cache rule there is a no-op that looks like a working edge TTL or bypass.',
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "advisory" },
  remediation:
    "Hand the tier to the Worker that routes the host (workers.<name>.routes: the bindings command writes its edge-cache module), and keep zone cache rules for hosts an R2 custom domain serves.",
};

/** The hosts an expression names: `http.host eq "h"` and `http.host wildcard "pr-*-h"`. */
const hostsOf = (expr: string) => [...expr.matchAll(/http\.host (?:eq|wildcard) "([^"]+)"/g)].map((m) => m[1]!);

export const edgeCacheRuleHost = stackPolicy(meta, ({ resources }, report) => {
  const r2Hosts = ofType(resources, T.r2CustomDomain)
    .map((d) => str(d.props.domain))
    .filter((d): d is string => !!d);
  // The stack's `edgeCache` output: per worker, the tiers (and hosts) it serves.
  const edgeCache = (stackOutputs(resources).edgeCache ?? {}) as Record<string, Record<string, { host?: string }>>;
  const workersOf = (host: string) =>
    Object.entries(edgeCache)
      .filter(([, tiers]) => Object.values(tiers).some((t) => t.host === host || `pr-*-${t.host}` === host))
      .map(([w]) => w);
  const servedByR2 = (h: string) => r2Hosts.some((d) => h === d || h === `pr-*-${d}`);
  for (const rs of ofType(resources, T.ruleset).filter((r) => r.props.phase === CACHE_SETTINGS_PHASE)) {
    for (const rule of cacheRulesOf([rs])) {
      if (rule.enabled === false) continue;
      const hosts = hostsOf(rule.expression ?? "");
      const bad = hosts.length ? hosts.filter((h) => !servedByR2(h)) : ["any host"];
      for (const h of bad) {
        const workers = workersOf(h);
        report(
          `cache rule for tier ${tierOf(rule)} names ${h}, which ${workers.length ? `Worker ${workers.join(", ")} serves` : "no R2 custom domain serves"}: ` +
            `the rule never acts there (R2-served hosts: ${r2Hosts.join(", ") || "none"})`,
          rs.urn,
        );
      }
    }
  }
});
