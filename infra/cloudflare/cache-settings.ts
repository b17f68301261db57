/**
 * Each cache tier's edge behaviour, declared where Cloudflare's cache reads it: the zone's entrypoint ruleset for
 * phase `http_request_cache_settings` (cache rules), one `set_cache_settings` rule per tier. Response-header
 * transform rules (cache-headers.ts) "will not change the way Cloudflare caches an object"
 * (developers.cloudflare.com/rules/transform/response-header-modification); they stay for browsers and downstream
 * caches. Only the stack that owns the zone declares this ruleset (zone-ownership.ts), with the same expression
 * builder and the same per-tier expressions as the header rules, minus what a request phase cannot read.
 *
 * From a tier's config: `cdnCacheControl: max-age=N` gives an edge TTL of N s for successful responses (every other
 * status is not stored); no `cdnCacheControl` with a `private`/`no-store`/`no-cache` Cache-Control bypasses the cache.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, yamlPath } from "../config/errors";
import type { CacheTier, StackConfig, ZONE_PLANS } from "../config/schema";
import { cloudName } from "../naming";
import { ExpressionError, SUCCESS_STATUSES, tierExpressions } from "./expression";
import { cdnMaxAge, MIN_EDGE_TTL_SECONDS } from "./limits";
import { zoneEntrypointRuleset } from "./zone-ruleset";

export const CACHE_SETTINGS_PHASE = "http_request_cache_settings";

export type ZonePlan = (typeof ZONE_PLANS)[number];

export { MIN_EDGE_TTL_SECONDS } from "./limits";

export type EdgeBehaviour = { kind: "ttl"; seconds: number } | { kind: "bypass" };

const NEVER_STORED = /(^|[\s,])(private|no-store|no-cache)($|[\s,=])/i;

/**
 * A tier's edge behaviour from its headers. Throws ConfigError naming the tier's YAML path when the tier says
 * neither (a CDN-Cache-Control without max-age, or none and a Cache-Control that lets shared caches store).
 */
export function edgeBehaviour(name: string, tier: Pick<CacheTier, "cacheControl" | "cdnCacheControl">): EdgeBehaviour {
  const at = yamlPath(["cacheTiers", name, "cdnCacheControl"]);
  if (tier.cdnCacheControl !== null) {
    const seconds = cdnMaxAge(tier.cdnCacheControl);
    if (seconds === undefined) {
      throw new ConfigError(
        [`${at}: ${JSON.stringify(tier.cdnCacheControl)} has no max-age (allowed: max-age=<seconds>, the edge TTL)`],
        "cacheTiers",
      );
    }
    return { kind: "ttl", seconds };
  }
  if (NEVER_STORED.test(tier.cacheControl)) return { kind: "bypass" };
  throw new ConfigError(
    [
      `${at}: null with Cache-Control ${JSON.stringify(tier.cacheControl)} says nothing about the edge ` +
        `(allowed: max-age=<seconds>, or a private/no-store/no-cache cacheControl to bypass)`,
    ],
    "cacheTiers",
  );
}

/** Whether a tier is stored at the edge: its long-lived headers then apply to successful responses only. */
export function isCacheable(name: string, tier: Pick<CacheTier, "cacheControl" | "cdnCacheControl">): boolean {
  return edgeBehaviour(name, tier).kind === "ttl";
}

/** Every problem with the tiers' edge TTLs under the zone's plan, one line each. */
export function edgeTtlProblems(tiers: Record<string, CacheTier>, plan: ZonePlan): string[] {
  const min = MIN_EDGE_TTL_SECONDS[plan];
  return Object.entries(tiers).flatMap(([name, tier]) => {
    const b = edgeBehaviour(name, tier);
    if (b.kind !== "ttl" || b.seconds >= min) return [];
    return [
      `${yamlPath(["cacheTiers", name, "cdnCacheControl"])}: an edge TTL of ${b.seconds} s is below the ${plan} ` +
        `zone plan's minimum (allowed: >= ${min}, or cloudflare.zone.plan business or enterprise)`,
    ];
  });
}

/**
 * Final statuses 200..599 other than SUCCESS_STATUSES, as ranges: the statuses the edge must never store for a
 * cacheable tier (a 404 fetched before an upload finishes must not stay at the edge for a day).
 */
export function nonSuccessRanges(): { from: number; to: number }[] {
  const ranges: { from: number; to: number }[] = [];
  let from = 200;
  for (const s of [...SUCCESS_STATUSES].sort((a, b) => a - b)) {
    if (s > from) ranges.push({ from, to: s - 1 });
    from = s + 1;
  }
  if (from <= 599) ranges.push({ from, to: 599 });
  return ranges;
}

/** `set_cache_settings` parameters in the provider's field names (@pulumi/cloudflare RulesetRuleActionParameters). */
export interface CacheSettingsParameters {
  /** false: bypass the cache; true: eligible for cache ("Cache everything" for the matched requests). */
  cache: boolean;
  edgeTtl?: {
    mode: "override_origin";
    default: number;
    /** -1 stores nothing for those statuses (the provider: "-1 is equivalent to ... no-store"). */
    statusCodeTtls: { statusCodeRange: { from: number; to: number }; value: number }[];
  };
  /** The browser sees the Cache-Control the header rules set, never one the zone's Browser Cache TTL rewrote. */
  browserTtl?: { mode: "respect_origin" };
}

export interface CacheSettingsRule {
  ref: string;
  tier: string;
  description: string;
  expression: string;
  action: "set_cache_settings";
  actionParameters: CacheSettingsParameters;
}

export function cacheSettingsParameters(behaviour: EdgeBehaviour): CacheSettingsParameters {
  if (behaviour.kind === "bypass") return { cache: false };
  return {
    cache: true,
    edgeTtl: {
      mode: "override_origin",
      default: behaviour.seconds,
      statusCodeTtls: nonSuccessRanges().map((statusCodeRange) => ({ statusCodeRange, value: -1 })),
    },
    browserTtl: { mode: "respect_origin" },
  };
}

export interface CacheSettingsArgs {
  stack: string;
  zoneId: string;
  zonePlan: ZonePlan;
  hosts: StackConfig["cloudflare"]["hosts"];
  tiers: Record<string, CacheTier>;
  /** Also match preview hosts `pr-*-<host>` (the dev stack). */
  previewHosts: boolean;
}

/** An expression-builder error is a config problem of `cacheTiers`: exit 2, naming the path. */
export function asConfigError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ExpressionError)
      throw new ConfigError([`${yamlPath(["cacheTiers"])}: ${e.message}`], "cacheTiers");
    throw e;
  }
}

/** The cache rules in order (broad tiers first; narrower ones exclude themselves from the broad ones' matches). */
export function cacheSettingsRules(args: Omit<CacheSettingsArgs, "zoneId">): CacheSettingsRule[] {
  const rules = asConfigError(() =>
    tierExpressions(args.tiers, args.hosts, { previewHosts: args.previewHosts, phase: "request" }),
  );
  const problems = edgeTtlProblems(args.tiers, args.zonePlan);
  if (problems.length) throw new ConfigError(problems, "cacheTiers");
  return rules.map(({ tier, expression }) => {
    const spec = args.tiers[tier]!;
    const behaviour = edgeBehaviour(tier, spec);
    const what = behaviour.kind === "bypass" ? "bypass" : `edge TTL ${behaviour.seconds} s`;
    return {
      ref: cloudName(args.stack, "ruleset", "edge", tier),
      tier,
      description: `cache tier ${tier}: ${what}${spec.description ? ` (${spec.description})` : ""}`,
      expression,
      action: "set_cache_settings",
      actionParameters: cacheSettingsParameters(behaviour),
    };
  });
}

/** `mauntic:cloudflare:CacheSettings`: the zone's `http_request_cache_settings` entrypoint ruleset. */
export class CacheSettingsRules extends pulumi.ComponentResource {
  readonly rules: CacheSettingsRule[];
  readonly rulesetId: pulumi.Output<string>;

  constructor(name: string, args: CacheSettingsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mauntic:cloudflare:CacheSettings", name, {}, opts);
    this.rules = cacheSettingsRules(args);
    const ruleset = zoneEntrypointRuleset(this, {
      stack: args.stack,
      zoneId: args.zoneId,
      phase: CACHE_SETTINGS_PHASE,
      thing: "cache-settings",
      description: "Edge cache behaviour per cache tier (mauntic-infra cacheTiers)",
      rules: this.rules,
    });
    this.rulesetId = ruleset.id;
    this.registerOutputs({ rulesetId: ruleset.id, tiers: this.rules.map((r) => r.tier) });
  }
}
