/**
 * The stack's Fly volumes: `fly_volume_used_pct` (0-100) of each volume, labelled `app` and `id` (Fly's "Metrics on
 * Fly.io": built-in series "Volumes - fly_volume_", "Standard Labels"), from the organization's Prometheus API at
 * https://api.fly.io/prometheus/<org-slug>/api/v1/query with the Fly token (Bearer or FlyV1, same page). The answer
 * is Prometheus's instant-query format (prometheus.io, "HTTP API": `{status, data: {resultType: "vector",
 * result: [{metric, value: [time, "text"]}]}}`). Every volume of the stack is in its Redis app (infra/fly/component.ts):
 * a data node's per node, plus a Sentinel's each in prod's group; one that reports no series is a finding too.
 */
import type { StackConfig } from "../config/schema";
import { authorizationHeader } from "../fly/client";
import { cloudName } from "../naming";
import { SENTINEL_COUNT } from "../fly/redis";
import { figure, notConfigured, report, type Figure, type SignalReport } from "./signal";

export const FLY_PROMETHEUS_URL = "https://api.fly.io/prometheus";

export interface FlyTarget {
  token: string;
  /** FLY_PROMETHEUS_URL for a fake; the org slug is appended. */
  prometheusUrl: string;
}

interface VectorAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

export async function volumesSignal(
  stack: string,
  config: StackConfig,
  target: FlyTarget | undefined,
): Promise<SignalReport> {
  if (!target) {
    return notConfigured("volumes", "no Fly token: set FLY_API_TOKEN, or the stack secret mauntic-infra:flyApiToken");
  }
  // Every app of the stack is named mauntic-<stack>-... (infra/naming.ts); PromQL regexes are fully anchored.
  const query = `fly_volume_used_pct{app=~"${cloudName(stack, "fly", "x").slice(0, -1)}.*"}`;
  const url = `${target.prometheusUrl}/${config.fly.org}/api/v1/query?query=${encodeURIComponent(query)}`;
  const res = await fetch(url, {
    headers: { Authorization: authorizationHeader(target.token) },
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body: VectorAnswer;
  try {
    body = JSON.parse(text) as VectorAnswer;
  } catch {
    throw new Error(`Fly Prometheus: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok || body.status !== "success" || !body.data) {
    throw new Error(`Fly Prometheus: HTTP ${res.status} ${body.error ?? body.status}`);
  }
  const figures = body.data.result.map((r) =>
    figure({
      subject: `${r.metric.app ?? "?"} volume ${r.metric.id ?? "?"}`,
      measure: "volume used",
      value: Number(r.value[1]),
      unit: "%",
      threshold: config.monitoring.volumeUsedPct,
      detail: `region ${r.metric.region ?? "?"}`,
      source: "Fly Prometheus fly_volume_used_pct",
    }),
  );
  figures.unshift(reportingFigure(stack, config, body.data.result));
  return report("volumes", figures);
}

/** Volumes the stack declares (all in its Redis app): 1 + fly.redis.replicas data volumes, + 3 Sentinels' with replicas. */
export function expectedVolumes(config: StackConfig): number {
  const replicas = config.fly.redis.replicas ?? 0;
  return 1 + replicas + (replicas > 0 ? SENTINEL_COUNT : 0);
}

function reportingFigure(stack: string, config: StackConfig, series: { metric: Record<string, string> }[]): Figure {
  const app = cloudName(stack, "fly", "redis");
  const ids = new Set(series.filter((r) => r.metric.app === app).map((r) => r.metric.id));
  const expected = expectedVolumes(config);
  const replicas = config.fly.redis.replicas ?? 0;
  return figure({
    subject: app,
    measure: "volumes reporting",
    value: ids.size,
    unit: "volumes",
    threshold: expected,
    kind: "min",
    detail: `${ids.size} of ${expected} (${1 + replicas} Redis data${replicas > 0 ? `, ${SENTINEL_COUNT} Sentinel` : ""})`,
    source: "Fly Prometheus fly_volume_used_pct series per id",
  });
}
