import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { MIGRATIONS_DIR } from "../../../migrations/runner/files";
import { fmtMs } from "../../../migrations/runner/report";
import type { CheckReport } from "../../../migrations/queries/explain";
import type { OfflineRun } from "../../offline/engine";
import type { Violation } from "../../offline/plan";
import { UsageError } from "../errors";
import { rehearseDatabase, type DatabaseRehearsal } from "./rehearse";
import { parseScale } from "./seed-data";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const SQUAWK = path.join(ROOT, "node_modules", ".bin", "squawk");
const SQUAWK_CONFIG = path.join(MIGRATIONS_DIR, ".squawk.toml");

export interface SquawkIssue {
  file: string;
  line: number;
  rule_name: string;
  message: string;
}

/** squawk (the project's SQL linter, its config in migrations/.squawk.toml) over every migration file. */
export function runSquawk(dir: string): Promise<{ files: string[]; issues: SquawkIssue[]; ms: number }> {
  const t0 = performance.now();
  const files = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".sql"))
    .sort();
  return new Promise((resolve, reject) => {
    const child = spawn(SQUAWK, ["--config", SQUAWK_CONFIG, "--reporter", "json", ...files], { cwd: dir });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        const issues = JSON.parse(out || "[]") as SquawkIssue[];
        if (code !== 0 && !issues.length) throw new Error(`squawk exited ${code}: ${err.trim() || out.trim()}`);
        resolve({ files, issues, ms: performance.now() - t0 });
      } catch (e) {
        reject(e instanceof SyntaxError ? new Error(`squawk printed no JSON: ${err.trim() || out.trim()}`) : e);
      }
    });
  });
}

export interface CheckResult {
  ok: boolean;
  failures: string[];
  plans: { stack: string; run?: OfflineRun; error?: string }[];
  squawk?: Awaited<ReturnType<typeof runSquawk>>;
  squawkError?: string;
  database?: DatabaseRehearsal;
  databaseError?: string;
  timings: { wallMs: number; programMs: number; policiesMs: number; squawkMs: number; databaseMs: number };
}

export interface CheckOptions {
  pr: number;
  /** Stack file per stack (`--config dev=path`); committed files otherwise. */
  configFiles: Record<string, string>;
  migrationsDir: string;
  scale: number;
  log: (line: string) => void;
}

/**
 * The three parts side by side: the plans in this process (one after another: Pulumi's runtime is per run), squawk
 * in a child process, and embedded PostgreSQL (its own processes) for the migrations and the explain gate.
 */
export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const t0 = performance.now();
  const stacks = ["dev", "prod", `pr-${opts.pr}`];
  const plans = (async () => {
    const { runOfflineTimed } = await import("../../offline/engine"); // the Pulumi SDK loads on use, as in `plan`
    const out: CheckResult["plans"] = [];
    for (const stack of stacks) {
      try {
        const run = await runOfflineTimed(stack, { configFile: opts.configFiles[stack] });
        opts.log(`plan ${stack}: ${fmtMs(run.programMs)}, policies ${fmtMs(run.policiesMs)}`);
        out.push({ stack, run });
      } catch (e) {
        out.push({ stack, error: (e as Error).message });
      }
    }
    return out;
  })();
  const [planResults, squawk, database] = await Promise.allSettled([
    plans,
    runSquawk(opts.migrationsDir),
    rehearseDatabase("dev", opts.scale, opts.log, { dir: opts.migrationsDir }),
  ]);

  const failures: string[] = [];
  const planList = planResults.status === "fulfilled" ? planResults.value : [];
  for (const p of planList) {
    // A config error lists its problems on the lines after its header: keep them all on the one line.
    if (p.error) failures.push(`plan ${p.stack} failed: ${p.error.trim().replace(/\n\s*(- )?/g, " ")}`);
    for (const v of p.run?.plan.violations ?? []) {
      if (v.enforcement === "mandatory")
        failures.push(`policy ${v.policy} on ${p.stack}${v.urn ? ` (${resourceOf(v.urn)})` : ""}: ${v.message}`);
    }
  }
  for (const i of squawk.status === "fulfilled" ? squawk.value.issues : []) {
    failures.push(`squawk ${i.rule_name} in ${path.basename(i.file)}: ${i.message}`);
  }
  if (squawk.status === "rejected") failures.push(`squawk did not run: ${(squawk.reason as Error).message}`);
  if (database.status === "fulfilled" && !database.value.check.ok) {
    for (const name of database.value.check.failures) {
      const q = database.value.check.queries.find((x) => x.name === name);
      failures.push(`key query ${name} is not index-served: ${q?.problems.join("; ") ?? ""}`);
    }
  }
  if (database.status === "rejected") failures.push(`database: ${(database.reason as Error).message.split("\n")[0]}`);

  const runs = planList.map((p) => p.run).filter((r): r is OfflineRun => !!r);
  return {
    ok: failures.length === 0,
    failures,
    plans: planList,
    ...(squawk.status === "fulfilled"
      ? { squawk: squawk.value }
      : { squawkError: String((squawk.reason as Error).message) }),
    ...(database.status === "fulfilled"
      ? { database: database.value }
      : { databaseError: String((database.reason as Error).message) }),
    timings: {
      wallMs: performance.now() - t0,
      programMs: runs.reduce((a, r) => a + r.programMs, 0),
      policiesMs: runs.reduce((a, r) => a + r.policiesMs, 0),
      squawkMs: squawk.status === "fulfilled" ? squawk.value.ms : 0,
      databaseMs: database.status === "fulfilled" ? database.value.ms : 0,
    },
  };
}

const resourceOf = (urn: string) => {
  const [type, name] = urn.split("::").slice(-2);
  return `${type!.split("$").pop()} ${name}`;
};
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const mdTable = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");

function violationRows(vs: Violation[]): string[][] {
  return vs.map((v) => [v.enforcement, `\`${v.policy}\``, v.urn ? resourceOf(v.urn) : "(stack)", v.message]);
}

function queriesSection(check: CheckReport): string[] {
  const rows = check.queries.map((q) => [
    q.name,
    q.verdict,
    q.facts.indexes.join(", ") || "-",
    q.facts.nodeTypes.join(" > "),
    q.facts.executionMs.toFixed(2),
    String(q.facts.sharedHit + q.facts.sharedRead),
  ]);
  return [
    `### Key queries (embedded PostgreSQL 17, largest organization: ${check.context.organizationContacts} contacts)`,
    "",
    mdTable(["query", "verdict", "indexes used", "plan", "exec ms", "buffers"], rows),
  ];
}

/** The Markdown a workflow posts as the PR comment and to the job summary. */
export function renderMarkdown(r: CheckResult): string {
  const t = r.timings;
  const out: string[] = [
    `## mauntic-infra check: ${r.ok ? "passed" : "FAILED"}`,
    "",
    `Wall time ${fmtMs(t.wallMs)}: plans ${fmtMs(t.programMs)}, policies ${fmtMs(t.policiesMs)}, squawk ${fmtMs(t.squawkMs)}, database ${fmtMs(t.databaseMs)} (parts run side by side).`,
    "",
  ];
  if (r.failures.length) out.push("### Failures", "", ...r.failures.map((f) => `- ${f}`), "");
  for (const p of r.plans) {
    out.push(`### Stack \`${p.stack}\``, "");
    if (!p.run) {
      out.push(`Plan failed: ${p.error ?? "unknown"}`, "");
      continue;
    }
    const { plan } = p.run;
    const byType = new Map<string, number>();
    for (const res of plan.resources.filter((x) => x.custom)) byType.set(res.type, (byType.get(res.type) ?? 0) + 1);
    const custom = plan.resources.filter((x) => x.custom).length;
    out.push(
      `${custom} resources, ${plan.resources.length - custom} components, dependency depth ${plan.depth}.`,
      "",
      mdTable(
        ["type", "count"],
        [...byType].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => [`\`${k}\``, String(n)]),
      ),
      "",
      plan.violations.length
        ? mdTable(["level", "policy", "resource", "message"], violationRows(plan.violations))
        : "No policy violations.",
      "",
    );
  }
  out.push("### Migrations", "");
  if (r.squawk) {
    out.push(`squawk: ${r.squawk.files.length} files, ${r.squawk.issues.length} issue(s).`);
    if (r.squawk.issues.length) {
      out.push(
        "",
        mdTable(
          ["file", "rule", "message"],
          r.squawk.issues.map((i) => [path.basename(i.file), i.rule_name, i.message]),
        ),
      );
    }
  } else out.push(`squawk did not run: ${r.squawkError}`);
  if (r.database) {
    const applied = r.database.run.migrations.length;
    out.push(
      "",
      `Applied ${applied} migration(s) on embedded PostgreSQL 17 with seeded data.`,
      "",
      ...queriesSection(r.database.check),
    );
  } else out.push("", `Database part failed: ${r.databaseError}`);
  return `${out.join("\n")}\n`;
}

function parseConfigs(values: string[] = [], pr: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const m = /^(dev|prod|pr-\d+)=(.+)$/.exec(v);
    if (!m) throw new UsageError(`--config ${v}: expected <stack>=<file> with stack dev, prod or pr-${pr}`);
    if (!fs.existsSync(m[2]!)) throw new UsageError(`--config ${v}: no such file ${m[2]}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export function register(program: Command): void {
  program
    .command("check")
    .description(
      "The pull-request check, with no credentials: offline plans of dev, prod and pr-<N> with their policies, squawk on the migrations, and the migrations plus the explain gate on embedded PostgreSQL",
    )
    .option("--pr <n>", "the preview stack to plan (pr-<n>)", "42")
    .option("--config <stack=file...>", "evaluate this stack file instead of the committed one (repeatable)")
    .option("--migrations-dir <dir>", "migrations folder", MIGRATIONS_DIR)
    // 0.02: 20k contacts, 100k activity rows, 40k delivery events: big tables stay above the explain gate's 10k-row
    // seq-scan threshold, and a query's verdict needs its index in the plan whatever the size; `rehearse` uses 0.05.
    .option("--scale <s>", "seed-data scale for the explain gate", "0.02")
    .option("--summary-file <path>", "also write the Markdown here (e.g. $GITHUB_STEP_SUMMARY)")
    .option("--timings-file <path>", "write the timings as JSON (the bench-check benchmark reads them)")
    .addHelpText(
      "after",
      `
Prints a Markdown summary (per stack: resources by type and policy violations; squawk; the key queries' plans and
timings) that a workflow can post as the PR comment. Progress goes to stderr.
Exit codes: 0 everything passed, 1 a part failed (a mandatory policy violation, a squawk issue, a failed migration,
a key query not index-served; each is named under "Failures"), 2 bad input.`,
    )
    .action(
      async (opts: {
        pr: string;
        config?: string[];
        migrationsDir: string;
        scale: string;
        summaryFile?: string;
        timingsFile?: string;
      }) => {
        if (!/^[1-9]\d{0,5}$/.test(opts.pr)) throw new UsageError(`--pr ${opts.pr}: a pull request number`);
        const pr = Number(opts.pr);
        if (!fs.existsSync(opts.migrationsDir))
          throw new UsageError(`--migrations-dir ${opts.migrationsDir}: no such folder`);
        const result = await runCheck({
          pr,
          configFiles: parseConfigs(opts.config, pr),
          migrationsDir: path.resolve(opts.migrationsDir),
          scale: parseScale(opts.scale),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const md = renderMarkdown(result);
        process.stdout.write(md);
        if (opts.summaryFile) fs.appendFileSync(opts.summaryFile, md);
        if (opts.timingsFile) fs.writeFileSync(opts.timingsFile, `${JSON.stringify(result.timings)}\n`);
        if (!result.ok) {
          process.stderr.write(`check failed: ${result.failures.length} failure(s); first: ${result.failures[0]}\n`);
          process.exitCode = 1;
        }
      },
    );
}
