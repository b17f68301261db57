/**
 * Cache-Control and CDN-Cache-Control per cache tier (the platform notes' table), as one `cloudflare.Ruleset`: the
 * zone's entrypoint for phase `http_response_headers_transform`, one rewrite rule per tier. Only the stack that owns
 * the zone declares it (zone-ownership.ts); the dev stack's rules also serve preview hosts `pr-<N>-<host>`, since
 * previews share dev's zone and never own its ruleset.
 *
 * These headers are for browsers and downstream caches only: they "will not change the way Cloudflare caches an object"
 * and apply to every response, errors included (developers.cloudflare.com/rules/transform/response-header-modification).
 * The edge's own behaviour is the cache rules' (cache-settings.ts). So a cacheable tier's long-lived headers apply to
 * successful responses only (`http.response.code in {200 206 304}`, a field of response phases): a 404 fetched
 * before an upload finishes keeps what the origin sent, never `immutable`.
 *
 * Adopting a zone whose entrypoint already exists (made in the dashboard): import it first (README), or the create
 * fails.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CacheTier, StackConfig } from "../config/schema";
import { cloudName } from "../naming";
import { asConfigError, isCacheable } from "./cache-settings";
import { tierExpressions } from "./expression";
import { zoneEntrypointRuleset } from "./zone-ruleset";

export const RESPONSE_HEADERS_PHASE = "http_response_headers_transform";

export interface CacheHeaderRulesArgs {
  stack: string;
  /** The zone whose entrypoint ruleset this stack owns (`cloudflare.zone.zoneId`). */
  zoneId: string;
  /** `cloudflare.hosts`: the hostname each tier's `host` names. */
  hosts: StackConfig["cloudflare"]["hosts"];
  /** `cacheTiers`: one rule each. */
  tiers: Record<string, CacheTier>;
  /** Also match preview hosts `pr-*-<host>` (the dev stack, whose zone previews share). */
  previewHosts: boolean;
}

type HeaderOp = { operation: "set"; value: string } | { operation: "remove" };

/**
 * A tier's header rewrites. A tier without CDN-Cache-Control removes any the origin sent, so the edge follows
 * Cache-Control (a stray `CDN-Cache-Control: max-age=...` on the tracking pixel would let the edge cache it).
 */
export function tierHeaders(tier: Pick<CacheTier, "cacheControl" | "cdnCacheControl">): Record<string, HeaderOp> {
  return {
    "Cache-Control": { operation: "set", value: tier.cacheControl },
    "CDN-Cache-Control":
      tier.cdnCacheControl === null ? { operation: "remove" } : { operation: "set", value: tier.cdnCacheControl },
  };
}

export interface CacheRule {
  ref: string;
  tier: string;
  description: string;
  expression: string;
  action: "rewrite";
  actionParameters: { headers: Record<string, HeaderOp> };
}

/** The rules in evaluation order (broad tiers first, narrower ones after and excluded from the broad ones). */
export function cacheRules(args: Omit<CacheHeaderRulesArgs, "zoneId">): CacheRule[] {
  const rules = asConfigError(() =>
    tierExpressions(args.tiers, args.hosts, {
      previewHosts: args.previewHosts,
      successOnly: (tier) => isCacheable(tier, args.tiers[tier]!),
    }),
  );
  return rules.map(({ tier, expression }) => {
    const spec = args.tiers[tier]!;
    return {
      ref: cloudName(args.stack, "ruleset", "tier", tier),
      tier,
      description: `cache tier ${tier}${spec.description ? `: ${spec.description}` : ""}`,
      expression,
      action: "rewrite",
      actionParameters: { headers: tierHeaders(spec) },
    };
  });
}

export class CacheHeaderRules extends pulumi.ComponentResource {
  readonly rules: CacheRule[];
  readonly rulesetId: pulumi.Output<string>;

  constructor(name: string, args: CacheHeaderRulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mauntic:cloudflare:CacheHeaders", name, {}, opts);
    this.rules = cacheRules(args);
    const ruleset = zoneEntrypointRuleset(this, {
      stack: args.stack,
      zoneId: args.zoneId,
      phase: RESPONSE_HEADERS_PHASE,
      thing: "cache-headers",
      description: "Cache-Control and CDN-Cache-Control per cache tier (mauntic-infra cacheTiers)",
      rules: this.rules,
    });
    this.rulesetId = ruleset.id;
    this.registerOutputs({ rulesetId: ruleset.id, tiers: this.rules.map((r) => r.tier) });
  }
}
