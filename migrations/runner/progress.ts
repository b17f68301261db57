/**
 * What the runner shows while it works: index-build progress from `pg_stat_progress_create_index` (a bar on a
 * TTY, plain lines otherwise) and notes (waits, retries, heals); build-wait.ts polls the build.
 */
import { SingleBar } from "cli-progress";

export interface BuildProgress {
  /** PostgreSQL's phase name, e.g. `building index: scanning table`. */
  phase: string;
  /** Progress within the phase, 0..100, when PostgreSQL reports one. */
  percent: number | null;
}

export interface Reporter {
  note(line: string): void;
  buildStarted(label: string): void;
  buildProgress(label: string, p: BuildProgress): void;
  buildEnded(label: string): void;
}

export const silentReporter: Reporter = {
  note: () => undefined,
  buildStarted: () => undefined,
  buildProgress: () => undefined,
  buildEnded: () => undefined,
};

interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** Plain lines for logs and CI: one per phase change or 10% step, so a long build still shows it is alive. */
export function lineReporter(out: Stream): Reporter {
  let last = "";
  return {
    note: (line) => void out.write(`${line}\n`),
    buildStarted(label) {
      last = "";
      out.write(`${label}: building\n`);
    },
    buildProgress(label, p) {
      const step = p.percent === null ? "" : ` ${Math.floor(p.percent / 10) * 10}%`;
      const now = `${p.phase}${step}`;
      if (now === last) return;
      last = now;
      out.write(`${label}: ${p.phase}${p.percent === null ? "" : ` ${p.percent.toFixed(0)}%`}\n`);
    },
    buildEnded: (label) => void out.write(`${label}: built\n`),
  };
}

/** A redrawn bar on a terminal. */
export function barReporter(out: NodeJS.WriteStream): Reporter {
  let bar: SingleBar | undefined;
  return {
    note(line) {
      // Keep notes above the bar instead of tearing it.
      if (bar) bar.stop();
      out.write(`${line}\n`);
      bar = undefined;
    },
    buildStarted(label) {
      bar = new SingleBar({
        stream: out,
        format: `${label} [{bar}] {percentage}% | {phase}`,
        hideCursor: true,
        clearOnComplete: false,
      });
      bar.start(100, 0, { phase: "initializing" });
    },
    buildProgress(_label, p) {
      bar?.update(p.percent ?? 0, { phase: p.phase });
    },
    buildEnded() {
      bar?.update(100, { phase: "built" });
      bar?.stop();
      bar = undefined;
    },
  };
}

export function reporterFor(out: NodeJS.WriteStream): Reporter {
  return out.isTTY ? barReporter(out) : lineReporter(out);
}

/** Counters of a pg_stat_progress_create_index row (bigint columns arrive as strings). */
export interface ProgressCounters {
  blocks_total: string;
  blocks_done: string;
  tuples_total: string;
  tuples_done: string;
  lockers_total: string;
  lockers_done: string;
}

/** Percent within the phase: blocks while scanning, tuples while loading, lockers while waiting. */
export function percentOf(r: ProgressCounters): number | null {
  for (const [done, total] of [
    [r.blocks_done, r.blocks_total],
    [r.tuples_done, r.tuples_total],
    [r.lockers_done, r.lockers_total],
  ] as const) {
    const t = Number(total);
    if (t > 0) return Math.min(100, (100 * Number(done)) / t);
  }
  return null;
}
