/**
 * Where each cache tier takes effect, and the settings a Worker gets for the tiers it serves.
 *
 * A request to a host a Worker serves reaches the Worker before the cache is checked; cache rules then apply only
 * to the Worker's own `fetch()` subrequests, and the Worker's `cf` settings override them
 * (developers.cloudflare.com/cache/interaction-cloudflare-products/workers-cache-rules, "Precedence order";
 * /cache/interaction-cloudflare-products/workers). So:
 * - a tier on a Worker-served host (`workers.<w>.routes`) is handed to the Worker in its bindings (a typed module,
 *   `<worker>.edge-cache.ts`): the headers to set, and `cf` for `fetch()` subrequests and the Cache API;
 * - a tier on a host served straight from R2 (a bucket's custom domain, `r2.buckets.<b>.publicHost`) goes through
 *   the zone's cache and its rules (/cache/interaction-cloudflare-products/r2): cache rules and header rules there.
 *
 * Response-header transform rules: Cloudflare documents them on responses "sent to website visitors" that come back
 * from the origin through Cloudflare (/rules/transform/response-header-modification, its diagram), and no page says
 * they rewrite a Worker's own response; a Worker sets its headers itself ("the Worker can also modify the response
 * before it is sent to the visitor", /cache/interaction-cloudflare-products/workers). They are declared for R2-served
 * hosts only, and the Worker module carries the headers for the others.
 */
import { z } from "zod";
import type { CacheTier, StackConfig } from "../config/schema";
import { edgeBehaviour, nonSuccessRanges, type EdgeBehaviour } from "./cache-settings";
import { SUCCESS_STATUSES } from "./expression";

export type ServedBy = { by: "workers"; workers: string[] } | { by: "r2"; bucket: string };

/** Who serves each host kind of `cloudflare.hosts` (the schema guarantees a host is never both). */
export function hostServers(config: Pick<StackConfig, "workers" | "r2">): Partial<Record<CacheTier["host"], ServedBy>> {
  const out: Partial<Record<CacheTier["host"], ServedBy>> = {};
  for (const [b, spec] of Object.entries(config.r2.buckets)) {
    if (spec.publicHost) out[spec.publicHost] = { by: "r2", bucket: b };
  }
  for (const [w, spec] of Object.entries(config.workers)) {
    for (const host of spec.routes) {
      const s = out[host];
      if (s?.by === "r2") continue;
      out[host] = { by: "workers", workers: [...(s?.workers ?? []), w] };
    }
  }
  return out;
}

/** The tiers whose host R2 serves straight through the zone's cache: the only ones zone rules act on. */
export function zoneRuleTiers(config: Pick<StackConfig, "workers" | "r2" | "cacheTiers">): Record<string, CacheTier> {
  const servers = hostServers(config);
  return Object.fromEntries(Object.entries(config.cacheTiers).filter(([, t]) => servers[t.host]?.by === "r2"));
}

/**
 * `cf` for a Worker's `fetch()` (RequestInitCfProperties, developers.cloudflare.com/workers/runtime-apis/request):
 * `cacheTtlByStatus` "chooses a TTL based on the response's status code ... Any negative value instructs Cloudflare
 * not to cache at all"; `cacheEverything` caches every file type. A cacheable tier stores 200 and 206 for its edge
 * TTL and nothing else (a 404 before an upload finishes must not stay); a bypass tier stores no status.
 */
export type WorkerCf =
  | { cacheEverything: true; cacheTtlByStatus: Record<string, number> }
  | { cacheTtlByStatus: Record<string, number> };

export function workerCf(behaviour: EdgeBehaviour): WorkerCf {
  if (behaviour.kind === "bypass") return { cacheTtlByStatus: { "100-599": -1 } };
  const byStatus: Record<string, number> = {};
  for (const s of SUCCESS_STATUSES) if (s !== 304) byStatus[String(s)] = behaviour.seconds;
  for (const { from, to } of nonSuccessRanges()) byStatus[from === to ? String(from) : `${from}-${to}`] = -1;
  return { cacheEverything: true, cacheTtlByStatus: byStatus };
}

/** One tier as its Worker gets it (the `edgeCache` stack output, and the generated module). */
export const workerTierSchema = z.strictObject({
  host: z.string(),
  paths: z.array(z.string()),
  contentType: z.string().optional(),
  /** The response headers for browsers and downstream caches. */
  headers: z.strictObject({ "Cache-Control": z.string(), "CDN-Cache-Control": z.string().nullable() }),
  /** Statuses the headers go on: a cacheable tier's on success (200, 206, 304) only; any other tier's on all. */
  headerStatuses: z.union([z.literal("all"), z.array(z.number())]),
  /** The edge TTL in seconds, or null when the edge must not store the tier. */
  edgeTtlSeconds: z.number().nullable(),
  cf: z.union([
    z.strictObject({ cacheEverything: z.literal(true), cacheTtlByStatus: z.record(z.string(), z.number()) }),
    z.strictObject({ cacheTtlByStatus: z.record(z.string(), z.number()) }),
  ]),
});
export type WorkerTier = z.infer<typeof workerTierSchema>;
export const edgeCacheSchema = z.record(z.string(), z.record(z.string(), workerTierSchema));
export type EdgeCache = z.infer<typeof edgeCacheSchema>;

export function workerTier(name: string, tier: CacheTier, hostname: string): WorkerTier {
  const behaviour = edgeBehaviour(name, tier);
  return {
    host: hostname,
    paths: [...tier.paths],
    ...(tier.contentType !== undefined ? { contentType: tier.contentType } : {}),
    headers: { "Cache-Control": tier.cacheControl, "CDN-Cache-Control": tier.cdnCacheControl },
    headerStatuses: behaviour.kind === "ttl" ? [...SUCCESS_STATUSES] : "all",
    edgeTtlSeconds: behaviour.kind === "ttl" ? behaviour.seconds : null,
    cf: workerCf(behaviour),
  };
}

/** Per worker, the tiers on the hosts it routes (a worker with no such tier is left out). */
export function workerEdgeCache(config: Pick<StackConfig, "workers" | "r2" | "cacheTiers" | "cloudflare">): EdgeCache {
  const out: EdgeCache = {};
  for (const [w, spec] of Object.entries(config.workers)) {
    const tiers = Object.entries(config.cacheTiers).filter(([, t]) => spec.routes.includes(t.host));
    if (tiers.length === 0) continue;
    out[w] = Object.fromEntries(
      tiers.map(([name, t]) => [name, workerTier(name, t, config.cloudflare.hosts[t.host])]),
    );
  }
  return out;
}

const str = (v: unknown) => JSON.stringify(v);

/**
 * The typed module a worker repo imports (`<worker>.edge-cache.ts`): no imports, strict-TypeScript clean. The
 * headers never depend on the response's Content-Type (a 304 carries none), only on the tier and the status.
 */
export function renderEdgeCacheModule(worker: string, tiers: Record<string, WorkerTier>, source: string): string {
  const entries = Object.entries(tiers).map(([name, t]) => `  ${str(name)}: ${JSON.stringify(t)},`);
  return `// Generated by mauntic-infra from ${source} (mauntic-infra:cacheTiers, workers.${worker}.routes). Do not edit:
// regenerate with  npm run infra -- bindings --stack <stack> --out <dir>
// A request to these hosts reaches this Worker before Cloudflare's cache, and zone cache rules do not apply to it
// (developers.cloudflare.com/cache/interaction-cloudflare-products/workers-cache-rules): the Worker sets the headers
// and passes \`cf\` to fetch() (workers/runtime-apis/request, RequestInitCfProperties) or stores with the Cache API.

export interface EdgeCacheTier {
  readonly host: string;
  readonly paths: readonly string[];
  readonly contentType?: string;
  /** Response headers for browsers and downstream caches (null: remove the header). */
  readonly headers: { readonly "Cache-Control": string; readonly "CDN-Cache-Control": string | null };
  /** The statuses the headers go on ("all", or success only for a tier the edge stores). */
  readonly headerStatuses: "all" | readonly number[];
  /** Edge TTL in seconds; null: the edge never stores this tier. */
  readonly edgeTtlSeconds: number | null;
  /** Pass as \`fetch(request, { cf })\`: a negative TTL stores nothing for those statuses. */
  readonly cf: { readonly cacheEverything?: true; readonly cacheTtlByStatus: Readonly<Record<string, number>> };
}

export const edgeCache = {
${entries.join("\n")}
} as const satisfies Record<string, EdgeCacheTier>;

export type EdgeCacheTierName = keyof typeof edgeCache;

/** The tier's headers for a response of this status (whatever its Content-Type: a 304 has none). */
export function cacheHeaders(tier: EdgeCacheTierName, status: number): Record<string, string | null> {
  const t: EdgeCacheTier = edgeCache[tier];
  if (t.headerStatuses !== "all" && !t.headerStatuses.includes(status)) return {};
  return { ...t.headers };
}
`;
}
