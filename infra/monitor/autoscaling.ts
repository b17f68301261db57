/**
 * Neon's autoscaling headroom: the compute the project used against its endpoints' autoscaling maximum, and the
 * time spent at that maximum. From Neon's API (the OpenAPI document in @neondatabase/api-client,
 * public-v2-for-users.gen.yaml):
 * - GET /projects/{project_id}/endpoints: each endpoint's `autoscaling_limit_max_cu`, `type`, `current_state`;
 * - GET /consumption_history/v2/projects?metrics=compute_unit_seconds&granularity=hourly (org_id required): the
 *   project's CU-seconds per hour (hourly figures are kept 168 hours; "does not wake project computes").
 *
 * An hour's CU-seconds / 3600 is that hour's average CU over all the project's computes (primary and replica:
 * the figure is per project), so it is judged against the sum of their maxima. Neon gives no finer figure
 * through its API: an hour whose average reaches that sum is an hour every compute spent entirely at its
 * maximum (a lower bound of the time at the maximum; a shorter burst to the maximum shows only in the average).
 */
import type { StackConfig } from "../config/schema";
import { ConsumptionHistoryGranularity } from "@neondatabase/api-client";
import { createNeonClient, type NeonClient } from "../neon/client";
import { cloudName, parseStackName } from "../naming";
import { figure, missing, notConfigured, percent, report, type SignalReport } from "./signal";

export interface NeonTarget {
  apiKey: string;
  /** NEON_API_URL for a fake. */
  baseUrl?: string;
  /** The stack output neonProjectId, when known; else the project is looked up by its name. */
  projectId?: string;
  now: Date;
}

export interface HourlyCu {
  start: string;
  /** Average CU over the hour. */
  cu: number;
}

/** Hourly average CU from a v2 consumption answer's periods (metric `compute_unit_seconds`). */
export function hourlyCu(
  periods: { consumption: { timeframe_start?: string; metrics?: { metric_name: string; value: number }[] }[] }[],
): HourlyCu[] {
  return periods.flatMap((p) =>
    p.consumption.map((c) => ({
      start: c.timeframe_start ?? "?",
      cu: (c.metrics?.find((m) => m.metric_name === "compute_unit_seconds")?.value ?? 0) / 3600,
    })),
  );
}

async function project(client: NeonClient, stack: string, config: StackConfig, target: NeonTarget) {
  const name = cloudName(stack, "neon");
  const { projects } = await client.read(`list projects named ${name}`, (p) =>
    client.api.listProjects(
      { search: name, limit: 100, ...(config.neon.orgId ? { org_id: config.neon.orgId } : {}) },
      p,
    ),
  );
  const found = projects.find((p) => (target.projectId ? p.id === target.projectId : p.name === name));
  if (!found) throw missing(`Neon: no project ${target.projectId ?? `named ${name}`}`);
  return found;
}

export async function autoscalingSignal(
  stack: string,
  config: StackConfig,
  target: NeonTarget | undefined,
): Promise<SignalReport> {
  if (!target) {
    return notConfigured(
      "autoscaling",
      "no Neon API key: set NEON_API_KEY, or the stack secret mauntic-infra:neonApiKey",
    );
  }
  if (parseStackName(stack).kind === "preview") {
    return notConfigured("autoscaling", "a preview branch runs in dev's Neon project: monitor dev");
  }
  const client = createNeonClient({ apiKey: target.apiKey, baseUrl: target.baseUrl, retryBudgetMs: 30_000 });
  const p = await project(client, stack, config, target);
  const { endpoints } = await client.read(`list endpoints of ${p.id}`, (r) => client.api.listProjectEndpoints(p.id, r));
  const ours = endpoints.filter((e) =>
    [cloudName(stack, "neon", "primary"), cloudName(stack, "neon", "replica")].includes(e.name ?? ""),
  );
  const counted = ours.length ? ours : endpoints;
  const maxCu = counted.reduce((a, e) => a + e.autoscaling_limit_max_cu, 0);
  const m = config.monitoring;
  const hours = m.autoscalingWindowHours;
  // Whole hours: Neon rounds `from`/`to` to the granularity.
  const to = new Date(Math.floor(target.now.getTime() / 3_600_000) * 3_600_000);
  const from = new Date(to.getTime() - hours * 3_600_000);
  const orgId = config.neon.orgId ?? p.org_id;
  if (!orgId) throw new Error(`Neon: project ${p.id} names no org_id and neon.orgId is not set`);
  const answer = await client.read(`consumption of ${p.id}`, (r) =>
    client.api.getConsumptionHistoryPerProjectV2(
      {
        project_ids: [p.id],
        from: from.toISOString(),
        to: to.toISOString(),
        granularity: ConsumptionHistoryGranularity.Hourly,
        org_id: orgId,
        metrics: ["compute_unit_seconds"],
      },
      r,
    ),
  );
  const series = hourlyCu(answer.projects.find((x) => x.project_id === p.id)?.periods ?? []);
  const peak = series.reduce<HourlyCu | undefined>((a, h) => (!a || h.cu > a.cu ? h : a), undefined);
  const atMax = series.filter((h) => h.cu >= maxCu).length;
  const limits = counted
    .map((e) => `${e.name ?? e.id} (${e.type}, ${e.current_state}) max ${e.autoscaling_limit_max_cu} CU`)
    .join(", ");
  return report("autoscaling", [
    figure({
      subject: `project ${p.name}`,
      measure: "compute used (busiest hour)",
      value: peak ? percent(peak.cu, maxCu) : null,
      unit: "%",
      threshold: m.computeUtilizationPct,
      detail: peak
        ? `${peak.cu.toFixed(2)} CU on average in the hour from ${peak.start}, against ${maxCu} CU: ${limits}; last ${hours} h`
        : `no consumption figures in the last ${hours} h; ${limits}`,
      source: "consumption_history/v2 compute_unit_seconds (hourly) / 3600; endpoints autoscaling_limit_max_cu",
    }),
    figure({
      subject: `project ${p.name}`,
      measure: "hours at the maximum CU",
      value: atMax,
      unit: "h",
      threshold: m.hoursAtMaxCu,
      detail: `${atMax} of ${series.length} hours averaged ${maxCu} CU (every compute at its maximum the whole hour)`,
      source: "consumption_history/v2 compute_unit_seconds (hourly)",
    }),
  ]);
}
