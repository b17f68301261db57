/**
 * One monitor run: every signal side by side, each one's failure caught and named (an unreachable service is its
 * own finding, never a crash), then the Markdown report or the JSON.
 */
import type { StackConfig } from "../config/schema";
import { autoscalingSignal, type NeonTarget } from "./autoscaling";
import { hyperdriveSignal, type CloudflareTarget } from "./hyperdrive";
import { poolSignal, type PoolTargets } from "./pool";
import { redisSignal, type RedisTarget } from "./redis";
import { messageOf, TITLES, type SignalReport } from "./signal";
import { volumesSignal, type FlyTarget } from "./volumes";

export interface MonitorTargets {
  database: PoolTargets;
  cloudflare?: CloudflareTarget;
  neon?: NeonTarget;
  fly?: FlyTarget;
  redis?: RedisTarget;
}

export interface MonitorReport {
  stack: string;
  at: string;
  /** Figures past their thresholds, plus one per unreachable service. */
  findings: number;
  signals: SignalReport[];
}

/** Which service a signal asks, for the name of an unreachable one. */
const SERVICE: Record<SignalReport["signal"], string> = {
  pool: "PostgreSQL",
  hyperdrive: "Cloudflare",
  autoscaling: "Neon API",
  redis: "Redis",
  volumes: "Fly Prometheus",
};

async function guarded(signal: SignalReport["signal"], fn: () => Promise<SignalReport>): Promise<SignalReport> {
  try {
    return await fn();
  } catch (e) {
    if ((e as { finding?: boolean }).finding) {
      return { signal, title: TITLES[signal], status: "finding", figures: [], reason: messageOf(e) };
    }
    return {
      signal,
      title: TITLES[signal],
      status: "unreachable",
      figures: [],
      reason: `${SERVICE[signal]} unreachable: ${messageOf(e)}`,
    };
  }
}

export function countFindings(signals: SignalReport[]): number {
  return signals.reduce((n, s) => {
    if (s.status === "unreachable") return n + 1;
    // A finding without figures (a missing config or project) counts once.
    return n + Math.max(s.status === "finding" ? 1 : 0, s.figures.filter((f) => f.finding).length);
  }, 0);
}

export async function runMonitor(
  stack: string,
  config: StackConfig,
  targets: MonitorTargets,
  now = new Date(),
): Promise<MonitorReport> {
  const signals = await Promise.all([
    guarded("pool", () => poolSignal(stack, config, targets.database)),
    guarded("hyperdrive", () => hyperdriveSignal(stack, config, targets.cloudflare)),
    guarded("autoscaling", () => autoscalingSignal(stack, config, targets.neon)),
    guarded("redis", () => redisSignal(config, targets.redis)),
    guarded("volumes", () => volumesSignal(stack, config, targets.fly)),
  ]);
  return { stack, at: now.toISOString(), findings: countFindings(signals), signals };
}

const fmt = (v: number | null, unit: string) =>
  v === null
    ? "no data"
    : `${Number.isInteger(v) ? v : v.toFixed(unit === "%" ? 1 : 0)}${unit === "%" ? " %" : ` ${unit}`}`;

/** The Markdown report: a headline, then per signal its status and a table of figures. */
export function renderMarkdown(r: MonitorReport): string {
  const lines = [
    `## Monitor: stack ${r.stack} at ${r.at}`,
    "",
    r.findings
      ? `**${r.findings} finding(s)**: ${r.signals
          .filter((s) => s.status === "finding" || s.status === "unreachable")
          .map((s) => s.signal)
          .join(", ")}`
      : "No findings.",
  ];
  for (const s of r.signals) {
    lines.push("", `### ${s.title}: ${s.status}`);
    if (s.reason) lines.push("", s.status === "unreachable" ? `**${s.reason}**` : s.reason);
    if (!s.figures.length) continue;
    lines.push("", "| | subject | measure | value | threshold | detail | source |", "|---|---|---|---|---|---|---|");
    for (const f of s.figures) {
      const mark = f.finding ? "✗" : "✓";
      const limit = `${f.kind === "max" ? "≤" : "≥"} ${fmt(f.threshold, f.unit)}`;
      lines.push(
        `| ${mark} | ${f.subject} | ${f.measure} | ${fmt(f.value, f.unit)} | ${limit} | ${f.detail.replace(/\|/g, "\\|")} | ${f.source} |`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
