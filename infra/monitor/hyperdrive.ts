/**
 * Each Hyperdrive config's latency and failures over the last window, from Cloudflare's GraphQL Analytics API.
 *
 * Dataset and fields as Cloudflare's Hyperdrive "Metrics and analytics" page lists them
 * (developers.cloudflare.com/hyperdrive/observability/metrics/): `hyperdriveQueriesAdaptiveGroups`, filtered by
 * `configId` and `datetime_geq`/`datetime_leq` under `accounts(filter: { accountTag })`, with `count`,
 * `avg { queryLatency connectionLatency }` (milliseconds, "as measured from your Hyperdrive connection pool(s)")
 * and `dimensions { cacheStatus eventStatus }` (eventStatus `complete` or `error`; cacheStatus `hit`, `miss`, ...).
 * Hyperdrive has no pool-utilization metric: an exhausted pool shows only as failed queries.
 *
 * Config ids come from Cloudflare's "List Hyperdrives" (GET /accounts/{account_id}/hyperdrive/configs), matched by
 * the names the stack gives its configs (infra/cloudflare/budget.ts hyperdriveLayout).
 */
import type { StackConfig } from "../config/schema";
import { entrySettings, hyperdriveLayout } from "../cloudflare/budget";
import { figure, missing, notConfigured, percent, report, type Figure, type SignalReport } from "./signal";

export const CLOUDFLARE_API_URL = "https://api.cloudflare.com/client/v4";
export const CLOUDFLARE_GRAPHQL_URL = "https://api.cloudflare.com/client/v4/graphql";

export interface CloudflareTarget {
  token: string;
  /** REST base (CLOUDFLARE_BASE_URL for a fake). */
  apiUrl: string;
  /** GraphQL endpoint (CLOUDFLARE_GRAPHQL_URL for a fake). */
  graphqlUrl: string;
  /** The end of the window (now). */
  now: Date;
}

/** One documented query: the groups of a config's queries by cache and event status, with their average latencies. */
export const HYPERDRIVE_QUERY = `query MonitorHyperdrive($accountTag: string!, $configId: string!, $datetimeStart: Time!, $datetimeEnd: Time!) {
  viewer {
    accounts(filter: { accountTag: $accountTag }) {
      hyperdriveQueriesAdaptiveGroups(
        limit: 10000
        filter: { configId: $configId, datetime_geq: $datetimeStart, datetime_leq: $datetimeEnd }
      ) {
        count
        avg { connectionLatency queryLatency }
        dimensions { cacheStatus eventStatus }
      }
    }
  }
}`;

export interface HyperdriveGroup {
  count: number;
  avg: { connectionLatency: number | null; queryLatency: number | null };
  dimensions: { cacheStatus: string; eventStatus: string };
}

async function cfFetch<T>(url: string, token: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`Cloudflare ${new URL(url).pathname}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) {
    const errors = (body as { errors?: { message?: string }[] }).errors ?? [];
    throw new Error(
      `Cloudflare ${new URL(url).pathname}: HTTP ${res.status} ${errors.map((e) => e.message).join("; ")}`,
    );
  }
  return body as T;
}

/** The account's Hyperdrive configs by name: one answer, no pages ("List Hyperdrives" is a SinglePage in cloudflare-typescript). */
export async function hyperdriveIds(t: CloudflareTarget, accountId: string): Promise<Map<string, string>> {
  const body = await cfFetch<{
    success: boolean;
    result: { id: string; name: string }[];
    errors?: { message: string }[];
  }>(`${t.apiUrl}/accounts/${accountId}/hyperdrive/configs`, t.token);
  if (!body.success)
    throw new Error(`Cloudflare list Hyperdrives: ${(body.errors ?? []).map((e) => e.message).join("; ")}`);
  return new Map(body.result.map((c) => [c.name, c.id]));
}

export async function hyperdriveGroups(
  t: CloudflareTarget,
  accountId: string,
  configId: string,
  windowMinutes: number,
): Promise<HyperdriveGroup[]> {
  const variables = {
    accountTag: accountId,
    configId,
    datetimeStart: new Date(t.now.getTime() - windowMinutes * 60_000).toISOString(),
    datetimeEnd: t.now.toISOString(),
  };
  const body = await cfFetch<{
    data?: { viewer?: { accounts?: { hyperdriveQueriesAdaptiveGroups?: HyperdriveGroup[] }[] } } | null;
    errors?: { message: string }[] | null;
  }>(t.graphqlUrl, t.token, { method: "POST", body: JSON.stringify({ query: HYPERDRIVE_QUERY, variables }) });
  // GraphQL answers 200 with `errors` for a bad query or a token without Account Analytics Read.
  if (body.errors?.length) throw new Error(`Cloudflare GraphQL: ${body.errors.map((e) => e.message).join("; ")}`);
  const accounts = body.data?.viewer?.accounts;
  if (!accounts) throw new Error("Cloudflare GraphQL: no viewer.accounts in the answer");
  return accounts[0]?.hyperdriveQueriesAdaptiveGroups ?? [];
}

/** Figures of one config from its groups: count-weighted average latencies, failed share, cache hit share. */
export function judgeGroups(
  name: string,
  groups: HyperdriveGroup[],
  m: StackConfig["monitoring"],
  caching: boolean,
): Figure[] {
  const total = groups.reduce((a, g) => a + g.count, 0);
  const complete = groups.filter((g) => g.dimensions.eventStatus === "complete");
  const completeCount = complete.reduce((a, g) => a + g.count, 0);
  const failed = groups.filter((g) => g.dimensions.eventStatus === "error").reduce((a, g) => a + g.count, 0);
  const hits = groups.filter((g) => g.dimensions.cacheStatus === "hit").reduce((a, g) => a + g.count, 0);
  const weighted = (field: "queryLatency" | "connectionLatency") =>
    completeCount === 0 ? null : complete.reduce((a, g) => a + g.count * (g.avg[field] ?? 0), 0) / completeCount;
  const source = "GraphQL hyperdriveQueriesAdaptiveGroups";
  const window = `last ${m.windowMinutes} min`;
  const out = [
    figure({
      subject: name,
      measure: "query latency (avg)",
      value: weighted("queryLatency"),
      unit: "ms",
      threshold: m.queryLatencyMs,
      detail: `${completeCount} completed queries, ${window}`,
      source: `${source} avg.queryLatency, eventStatus complete`,
    }),
    figure({
      subject: name,
      measure: "connection latency (avg)",
      value: weighted("connectionLatency"),
      unit: "ms",
      threshold: m.connectionLatencyMs,
      detail: `${completeCount} completed queries, ${window}`,
      source: `${source} avg.connectionLatency, eventStatus complete`,
    }),
    figure({
      subject: name,
      measure: "failed queries",
      value: percent(failed, total),
      unit: "%",
      threshold: m.failedQueriesPct,
      detail: `${failed} of ${total} queries failed, ${window} (pool exhaustion shows here)`,
      source: `${source} count, eventStatus error`,
    }),
  ];
  if (caching) {
    out.push(
      figure({
        subject: name,
        measure: "cache hit ratio",
        value: percent(hits, total),
        unit: "%",
        threshold: m.cacheHitRatioMinPct,
        kind: "min",
        detail: `${hits} of ${total} queries served from cache, ${window}`,
        source: `${source} count, cacheStatus hit`,
      }),
    );
  }
  return out;
}

export async function hyperdriveSignal(
  stack: string,
  config: StackConfig,
  target: CloudflareTarget | undefined,
): Promise<SignalReport> {
  if (!target) {
    return notConfigured(
      "hyperdrive",
      "no Cloudflare token: set CLOUDFLARE_API_TOKEN (Account Analytics Read, Hyperdrive Read), or the stack secret cloudflare:apiToken",
    );
  }
  const { accountId } = config.cloudflare;
  const ids = await hyperdriveIds(target, accountId);
  const figures: Figure[] = [];
  for (const entry of hyperdriveLayout(stack, config)) {
    const id = ids.get(entry.name);
    if (!id) throw missing(`Cloudflare: no Hyperdrive config named ${entry.name} in account ${accountId}`);
    // Cached as deployed: a preview's shared config caches only when every worker's does (budget.ts sharedSettings).
    const caching = entrySettings(config, entry).caching.enabled;
    const groups = await hyperdriveGroups(target, accountId, id, config.monitoring.windowMinutes);
    figures.push(...judgeGroups(entry.name, groups, config.monitoring, caching));
  }
  return report("hyperdrive", figures);
}
