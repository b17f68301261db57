/**
 * The shape every monitor signal reports in, and the one rule that judges a figure: a figure past its threshold is
 * a finding, a figure exactly at it is not (the notes: "> 80 %").
 */

/** ok: every figure within its threshold; finding: one or more past it; not configured: no credentials or address
 * for this signal (nothing was read, nothing is wrong); unreachable: the service was asked and did not answer. */
export type SignalStatus = "ok" | "finding" | "not configured" | "unreachable";

export interface Figure {
  /** What was measured, e.g. `crm on the primary`. */
  subject: string;
  /** The measure, e.g. `pool utilization`. */
  measure: string;
  /** null when the service had no data for it (no queries in the window): never a finding. */
  value: number | null;
  unit: string;
  /** The threshold from the stack config (monitoring.*). */
  threshold: number;
  /** `max`: a value above the threshold is a finding; `min`: a value below it. */
  kind: "max" | "min";
  finding: boolean;
  /** How the value was obtained, with its parts (e.g. `81 of 100 connections: 81 idle`). */
  detail: string;
  /** Where the value comes from (a view, an API field, a metric name). */
  source: string;
}

export interface SignalReport {
  signal: "pool" | "hyperdrive" | "autoscaling" | "redis" | "volumes";
  title: string;
  status: SignalStatus;
  figures: Figure[];
  /** Why the signal is not configured or unreachable (names the service and the error). */
  reason?: string;
}

/** Past the threshold, never at it. */
export function past(value: number | null, threshold: number, kind: "max" | "min"): boolean {
  if (value === null || Number.isNaN(value)) return false;
  return kind === "max" ? value > threshold : value < threshold;
}

export function figure(f: Omit<Figure, "finding" | "kind"> & { kind?: "max" | "min" }): Figure {
  const kind = f.kind ?? "max";
  return { ...f, kind, finding: past(f.value, f.threshold, kind) };
}

/** A percentage of `part` in `whole` computed as part*100/whole, so 80 of 100 is exactly 80 (no 0.8*100 drift). */
export function percent(part: number, whole: number): number | null {
  if (whole <= 0) return null;
  return (part * 100) / whole;
}

/** Each signal's heading, naming where its figures come from. */
export const TITLES: Record<SignalReport["signal"], string> = {
  pool: "Pool utilization (pg_stat_activity by role)",
  hyperdrive: "Hyperdrive latency and failures (Cloudflare GraphQL Analytics)",
  autoscaling: "Neon autoscaling headroom (Neon API: endpoints, consumption history)",
  redis: "Redis memory (INFO memory)",
  volumes: "Fly volumes (Prometheus fly_volume_used_pct)",
};

export function report(signal: SignalReport["signal"], figures: Figure[]): SignalReport {
  return { signal, title: TITLES[signal], status: figures.some((f) => f.finding) ? "finding" : "ok", figures };
}

export function notConfigured(signal: SignalReport["signal"], reason: string): SignalReport {
  return { signal, title: TITLES[signal], status: "not configured", figures: [], reason };
}

/** The message of anything thrown, without credentials (callers never put them in messages). */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/**
 * Something the service answered that is itself wrong (a config or project the stack declares is missing): the
 * signal is a finding with this reason, not an unreachable service.
 */
export function missing(message: string): Error {
  return Object.assign(new Error(message), { finding: true });
}
