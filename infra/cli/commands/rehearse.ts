import type { Command } from "commander";
import { loadFixture } from "../../../migrations/fixture/load";
import { renderCheck, runCheck, type CheckReport } from "../../../migrations/queries/explain";
import { seedData, seedStepLine } from "../../../migrations/queries/seed";
import { openClient } from "../../../migrations/runner/connect";
import { lineReporter } from "../../../migrations/runner/progress";
import { fmtMs, renderRun } from "../../../migrations/runner/report";
import { migrate, RunFailed, type RunResult } from "../../../migrations/runner/runner";
import { startPostgres } from "../../../migrations/embedded";
import { grantsFromConfig } from "../../../migrations/runner/grants-spec";
import { loadStackConfigFromFile } from "../../config/load";
import type { Plan } from "../../offline/plan";
import { renderTree } from "../render";
import { parseScale } from "./seed-data";

export interface DatabaseRehearsal {
  lines: string[];
  check: CheckReport;
  run: RunResult;
  ms: number;
}

/**
 * The database half: embedded PostgreSQL 17, the fixture, seeded data, the migrations through the runner, the
 * explain check. Progress goes to stderr; the summary lines are returned. Throws with the lines so far on failure.
 * `check` runs the same with another migrations folder (`dir`) when asked.
 */
export async function rehearseDatabase(
  stack: string,
  scale: number,
  log: (line: string) => void,
  opts: { dir?: string } = {},
): Promise<DatabaseRehearsal> {
  const lines: string[] = [];
  const t0 = performance.now();
  log("database: starting embedded PostgreSQL 17");
  const pg = await startPostgres();
  try {
    const url = await pg.newDatabase({ name: "rehearsal" });
    const fixture = await loadFixture(url);
    lines.push(`fixture: ${fixture.schemas.length} schemas, ${fixture.tables} tables, ${fixture.indexes} indexes`);
    const db = await openClient(url, "mauntic-rehearse");
    try {
      const seed = await seedData(db, scale, (s, i, n) => log(`seed ${seedStepLine(s, i, n)}`));
      const rows = seed.steps.reduce((a, s) => a + s.rows, 0);
      lines.push(
        `seed: scale ${scale}, ${rows} rows (${seed.sizes.organizations} organizations, ${seed.sizes.contacts} contacts) in ${fmtMs(seed.ms)}`,
      );
      // The worker roles the Neon component creates, so the run also proves the stack's grants.
      const grants = grantsFromConfig(stack, loadStackConfigFromFile(stack));
      for (const role of Object.keys(grants.roles)) {
        await db.query(`CREATE ROLE ${role} LOGIN`);
      }
      const run = await migrate({
        databaseUrl: url,
        dir: opts.dir,
        grants,
        reporter: lineReporter({ write: (s) => log(s.trimEnd()) }),
      }).catch((e: unknown) => {
        if (e instanceof RunFailed) lines.push(renderRun(e.result).trimEnd());
        throw e;
      });
      lines.push(renderRun(run).trimEnd());
      const check = await runCheck(db);
      lines.push(renderCheck(check).trimEnd());
      return { lines, check, run, ms: performance.now() - t0 };
    } finally {
      await db.end().catch(() => undefined);
    }
  } catch (e) {
    throw Object.assign(e as Error, { lines });
  } finally {
    await pg.stop().catch(() => undefined);
    log(`database: done in ${fmtMs(performance.now() - t0)}`);
  }
}

/**
 * The main job on the embedded default (`npm start`): everything that runs with no credentials, end to end. The
 * offline plan and the database rehearsal run side by side (one is Node, the other mostly PostgreSQL).
 */
export function register(program: Command): void {
  program
    .command("rehearse")
    .description(
      "Rehearse a deploy with no credentials: the offline plan of a stack, then the migrations and the explain check on embedded PostgreSQL with seeded data",
    )
    .option("-s, --stack <name>", "stack to rehearse", "dev")
    .option("--scale <s>", "seed-data scale for the database part", "0.05")
    .addHelpText(
      "after",
      `
Exit codes: 0 every part passed, 1 a part failed (the plan has a mandatory violation, a migration failed, or a key
query is not index-served), 2 bad input.`,
    )
    .action(async (opts: { stack: string; scale: string }) => {
      const scale = parseScale(opts.scale);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const t0 = performance.now();
      const [plan, database] = await Promise.allSettled([
        (async () => {
          const t = performance.now();
          const { runOffline } = await import("../../offline/engine"); // loaded on use, as in `plan`
          const p: Plan = await runOffline(opts.stack);
          log(`plan: done in ${fmtMs(performance.now() - t)}`);
          return p;
        })(),
        rehearseDatabase(opts.stack, scale, log),
      ]);
      const failures: string[] = [];
      const out: string[] = [`== plan: stack ${opts.stack}, offline`];
      if (plan.status === "fulfilled") {
        out.push(renderTree(plan.value).trimEnd());
        const mandatory = plan.value.violations.filter((v) => v.enforcement === "mandatory");
        if (mandatory.length) failures.push(`plan: ${mandatory.length} mandatory policy violation(s)`);
      } else {
        out.push(`plan failed: ${(plan.reason as Error).message}`);
        failures.push(`plan: ${(plan.reason as Error).message}`);
      }
      out.push("", `== database: embedded PostgreSQL 17, fixture, seed, migrations, explain check`);
      if (database.status === "fulfilled") {
        out.push(...database.value.lines);
        const { check } = database.value;
        if (!check.ok) failures.push(`explain check: not index-served: ${check.failures.join(", ")}`);
      } else {
        const e = database.reason as Error & { lines?: string[] };
        out.push(...(e.lines ?? []), `database part failed: ${e.message}`);
        failures.push(`database: ${e.message.split("\n")[0]}`);
      }
      out.push(
        "",
        failures.length
          ? `== rehearsal FAILED in ${fmtMs(performance.now() - t0)}: ${failures.join("; ")}`
          : `== rehearsal ok in ${fmtMs(performance.now() - t0)}: plan, migrations and every key query's index`,
      );
      process.stdout.write(`${out.join("\n")}\n`);
      if (failures.length) process.exitCode = 1;
    });
}
