import type { PolicyResource } from "@pulumi/policy";
import { at, ofType, stackEnvironment, stackPolicy, str, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "cache-tiers",
  description:
    "Cache tiers: `immutable` only on content-hashed (R2 upload) hosts; private, no-store and pixel tiers never stored at the edge; one owner per zone ruleset (edge TTLs: cache-tier-edge-ttl).",
  why: "`immutable` on a changing URL pins stale pages in browsers for a year; a private or per-user response stored at the edge is served to other users; two owners of a zone's entrypoint ruleset overwrite each other's rules.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "advisory" },
  remediation:
    "Fix the tier in `cacheTiers` (cacheControl / cdnCacheControl), let the zone's owning stack declare both rulesets, and keep `ownsResponseHeaderRuleset: false` everywhere else.",
};

/** Zone rulesets by phase (developers.cloudflare.com/ruleset-engine/reference/phases-list). */
export const RESPONSE_HEADERS_PHASE = "http_response_headers_transform";
export const CACHE_SETTINGS_PHASE = "http_request_cache_settings";

export interface Rule {
  ref?: string;
  description?: string;
  expression?: string;
  action?: string;
  actionParameters?: Record<string, unknown>;
  enabled?: boolean;
}

/** A rule's tier: both rulesets describe their rules as `cache tier <name>...` (infra/cloudflare). */
export const tierOf = (r: Rule) => /^cache tier ([a-z0-9-]+)/.exec(r.description ?? "")?.[1] ?? r.ref ?? "?";
/** The hosts an expression names: `http.host eq "h"` and `http.host wildcard "pr-*-h"`. */
const hostsOf = (expr: string) => [...expr.matchAll(/http\.host (?:eq|wildcard) "([^"]+)"/g)].map((m) => m[1]!);
/** Directives a cache may not store the response under (RFC 9111 5.2.2). */
export const NEVER_STORED = /(^|[\s,])(private|no-store|no-cache)($|[\s,=])/i;

export function header(rule: Rule, name: string): { operation?: string; value?: string } | undefined {
  return at(rule.actionParameters, "headers", name) as { operation?: string; value?: string } | undefined;
}

export const cacheTiers = stackPolicy(meta, ({ resources }, report) => {
  const rulesets = ofType(resources, T.ruleset);
  const byZonePhase = new Map<string, PolicyResource[]>();
  for (const rs of rulesets) {
    if (rs.props.kind !== "zone") continue;
    const key = `${String(rs.props.zoneId)} ${String(rs.props.phase)}`;
    byZonePhase.set(key, [...(byZonePhase.get(key) ?? []), rs]);
  }
  for (const [key, list] of byZonePhase) {
    if (list.length > 1)
      report(
        `zone ${key.split(" ")[0]} has ${list.length} ${key.split(" ")[1]} entrypoint rulesets in one stack: ${list.map((r) => r.name).join(", ")}`,
      );
  }
  if (stackEnvironment(resources) === "preview") {
    for (const rs of rulesets.filter((r) => r.props.kind === "zone")) {
      report(
        `a preview owns zone ruleset ${String(rs.props.phase)}; the zone's owning stack (dev) serves previews`,
        rs.urn,
      );
    }
  }

  const contentHashed = ofType(resources, T.r2CustomDomain)
    .map((d) => str(d.props.domain))
    .filter((d): d is string => !!d);
  const hashedHost = (h: string) => contentHashed.some((d) => h === d || h === `pr-*-${d}`);
  const cacheRules = cacheRulesOf(rulesets);
  for (const rs of rulesets.filter((r) => r.props.phase === RESPONSE_HEADERS_PHASE)) {
    for (const rule of (rs.props.rules ?? []) as Rule[]) {
      if (rule.enabled === false) continue;
      const tier = tierOf(rule);
      const cc = header(rule, "Cache-Control");
      const cdn = header(rule, "CDN-Cache-Control");
      const ccValue = cc?.operation === "set" ? (cc.value ?? "") : "";
      if (/\bimmutable\b/i.test(ccValue)) {
        const hosts = hostsOf(rule.expression ?? "");
        if (!hosts.length || !hosts.every(hashedHost)) {
          report(
            `tier ${tier} sets immutable on ${hosts.join(", ") || "any host"}, not only on content-hashed upload hosts (${contentHashed.join(", ") || "none"})`,
            rs.urn,
          );
        }
      }
      const edgeCached = cacheRules.find((c) => tierOf(c) === tier)?.actionParameters?.cache === true;
      if (NEVER_STORED.test(ccValue)) {
        if (cdn?.operation === "set" && !NEVER_STORED.test(cdn.value ?? "")) {
          report(`tier ${tier} is ${ccValue} but sets CDN-Cache-Control ${cdn.value}`, rs.urn);
        }
        if (edgeCached) report(`tier ${tier} is ${ccValue} but its cache rule stores it at the edge`, rs.urn);
      }
    }
  }
});

/** The rules of the stack's cache-settings rulesets. */
export function cacheRulesOf(rulesets: PolicyResource[]): Rule[] {
  return rulesets.filter((r) => r.props.phase === CACHE_SETTINGS_PHASE).flatMap((r) => (r.props.rules ?? []) as Rule[]);
}
