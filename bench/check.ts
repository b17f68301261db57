/**
 * The `check` benchmark: runs `mauntic-infra check` as a pull request job runs it (a fresh process each time) and
 * prints its wall time with the split the command measures itself: the three plans (the program under mocks), the
 * policies over them, squawk, and the database part (embedded PostgreSQL: fixture, seed, migrations, explain gate).
 * The parts run side by side, so the wall time is about the longest part, not their sum. Target: <= 30 s.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fmtMs, table } from "../migrations/runner/report";
import { RESULTS_DIR } from "./indexes";

export const CHECK_TARGET_MS = 30_000;
const ROOT = path.resolve(__dirname, "..");

export interface CheckTimings {
  wallMs: number;
  programMs: number;
  policiesMs: number;
  squawkMs: number;
  databaseMs: number;
}

export interface CheckRun extends CheckTimings {
  /** The whole process, start to exit (what the CI job waits for). */
  processMs: number;
  exitCode: number;
}

function runOnce(extraArgs: string[]): Promise<CheckRun> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-bench-check-")), "timings.json");
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(ROOT, "node_modules", ".bin", "tsx"),
      [path.join(ROOT, "infra", "cli", "main.ts"), "check", "--timings-file", file, ...extraArgs],
      {
        cwd: ROOT,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const processMs = performance.now() - t0;
      if (!fs.existsSync(file))
        return reject(new Error(`check exited ${code} without timings: ${err.trim().split("\n").pop()}`));
      const t = JSON.parse(fs.readFileSync(file, "utf8")) as CheckTimings;
      resolve({ ...t, processMs, exitCode: code ?? -1 });
    });
  });
}

export interface CheckBench {
  startedAt: string;
  loadAverage: number[];
  runs: CheckRun[];
  targetMs: number;
}

export async function runCheckBench(opts: {
  runs: number;
  args?: string[];
  log: (line: string) => void;
}): Promise<CheckBench> {
  const bench: CheckBench = {
    startedAt: new Date().toISOString(),
    loadAverage: os.loadavg(),
    runs: [],
    targetMs: CHECK_TARGET_MS,
  };
  for (let i = 0; i < opts.runs; i++) {
    const run = await runOnce(opts.args ?? []);
    opts.log(`run ${i + 1}/${opts.runs}: ${fmtMs(run.processMs)} (exit ${run.exitCode})`);
    bench.runs.push(run);
  }
  return bench;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function renderCheckBench(b: CheckBench): string {
  const rows = b.runs.map((r, i) => [
    String(i + 1),
    fmtMs(r.processMs),
    fmtMs(r.wallMs),
    fmtMs(r.programMs),
    fmtMs(r.policiesMs),
    fmtMs(r.squawkMs),
    fmtMs(r.databaseMs),
    String(r.exitCode),
  ]);
  const m = median(b.runs.map((r) => r.processMs));
  return [
    `check benchmark: ${b.runs.length} run(s), load average ${b.loadAverage.map((x) => x.toFixed(1)).join(" ")} on ${os.cpus().length} cores`,
    table(["RUN", "PROCESS", "CHECK WALL", "PLANS", "POLICIES", "SQUAWK", "DATABASE", "EXIT"], rows),
    `median process wall time ${fmtMs(m)}: target <= ${fmtMs(b.targetMs)} ${m <= b.targetMs ? "met" : "NOT met"}`,
    "",
  ].join("\n");
}

export function writeCheckBench(b: CheckBench, dir = RESULTS_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "check-latest.json");
  fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
  return file;
}
