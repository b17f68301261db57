/**
 * Cloudflare's Hyperdrive configs per account (developers.cloudflare.com/hyperdrive/platform/limits, "Maximum
 * configs per account"): one place for the budget, the preview refusal and the policy pack (which loads no config).
 */
export const HYPERDRIVE_ACCOUNT_LIMIT = { paid: 25, free: 10 } as const;

/**
 * The shortest Edge Cache TTL per zone plan: Free 2 h, Pro 1 h, Business and Enterprise 1 s
 * (developers.cloudflare.com/cache/how-to/edge-browser-cache-ttl, "the minimum Edge Cache TTL depends on plan type",
 * its feature table `cache.edge_cache_ttl`). A Worker's `cf.cacheTtl` is "equivalent to setting ... Edge Cache TTL"
 * (workers/runtime-apis/request), so the minimum holds for Worker-served tiers too. Read by the config schema, so a
 * TTL the plan does not allow fails before any call.
 */
export const MIN_EDGE_TTL_SECONDS = { free: 7200, pro: 3600, business: 1, enterprise: 1 } as const;

/** The edge TTL a `CDN-Cache-Control` value gives (its max-age), or undefined without one. */
export function cdnMaxAge(cdnCacheControl: string): number | undefined {
  const m = /(?:^|[\s,])max-age=(\d+)(?:$|[\s,])/i.exec(cdnCacheControl);
  return m ? Number(m[1]) : undefined;
}

/**
 * The Ruleset inputs the Cloudflare provider replaces a ruleset for (terraform-provider-cloudflare ruleset schema.go
 * `RequiresReplace`), as @pulumi/cloudflare names them: one list for the program's adopt path and the stand-in plugin.
 */
export const RULESET_REPLACE_ON_CHANGES = ["accountId", "zoneId", "kind", "name", "phase"] as const;
