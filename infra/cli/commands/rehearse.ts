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
import { checkWorkerAccess, neonDatabase, urlAs } from "../../../migrations/neon-emulation";
import { Client } from "pg";
import type { StackConfig } from "../../config/schema";
import type { MonitorReport } from "../../monitor/run";
import { migratorRoleName } from "../../neon/roles";
import { loadStackConfigFromFile } from "../../config/load";
import type { Plan } from "../../offline/plan";
import { proveRedis, renderRedisProof } from "../../fly/redis-proof";
import { parseStackName } from "../../naming";
import { renderTree } from "../render";
import { parseScale } from "./seed-data";

export interface DatabaseRehearsal {
  lines: string[];
  check: CheckReport;
  run: RunResult;
  ms: number;
  /** `monitor` on this database, while each worker role holds a connection (the services: not configured). */
  monitor?: MonitorReport;
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
  opts: { dir?: string; configFile?: string; monitor?: boolean } = {},
): Promise<DatabaseRehearsal> {
  const lines: string[] = [];
  const t0 = performance.now();
  log("database: starting embedded PostgreSQL 17");
  const pg = await startPostgres();
  try {
    // Neon's role model (migrations/neon-emulation.ts): the migrator is an API-made neon_superuser member that owns
    // the database; the app's tables, the seed, the worker roles and the migrations are all its doing, as on Neon.
    const config = loadStackConfigFromFile(stack, { configFile: opts.configFile });
    const { migratorUrl: url } = await neonDatabase(pg, migratorRoleName(stack, config), { name: "rehearsal" });
    const fixture = await loadFixture(url);
    lines.push(`fixture: ${fixture.schemas.length} schemas, ${fixture.tables} tables, ${fixture.indexes} indexes`);
    const db = await openClient(url, "mauntic-rehearse");
    try {
      const seed = await seedData(db, scale, (s, i, n) => log(`seed ${seedStepLine(s, i, n)}`));
      const rows = seed.steps.reduce((a, s) => a + s.rows, 0);
      lines.push(
        `seed: scale ${scale}, ${rows} rows (${seed.sizes.organizations} organizations, ${seed.sizes.contacts} contacts) in ${fmtMs(seed.ms)}`,
      );
      // The worker roles as the Neon component makes them (the LoginRole provider, SQL), so the run also proves the
      // stack's grants on Neon's role model.
      const grants = grantsFromConfig(stack, config);
      const { loginRoleProvider } = await import("../../neon/login-role"); // the Pulumi SDK, loaded on use
      const passwords: Record<string, string> = {};
      for (const role of Object.keys(grants.roles)) {
        const made = await loginRoleProvider.create!({ admin_uri: url, name: role, password_version: 1 });
        passwords[role] = (made.outs as { password: string }).password;
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
      lines.push(await checkWorkerAccess(db, grants));
      const check = await runCheck(db);
      lines.push(renderCheck(check).trimEnd());
      const monitor = opts.monitor ? await monitorRehearsal(stack, config, url, passwords) : undefined;
      return { lines, check, run, ms: performance.now() - t0, monitor };
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
 * `monitor` on the rehearsal's database: every worker role holds one real connection, as a worker would, and the
 * monitor reads them from pg_stat_activity as the migrator (a neon_superuser member, which Neon puts in pg_monitor).
 * No live service is asked: Hyperdrive, Neon, Redis and the volumes are "not configured".
 */
async function monitorRehearsal(
  stack: string,
  config: StackConfig,
  url: string,
  passwords: Record<string, string>,
): Promise<MonitorReport> {
  const { runMonitor } = await import("../../monitor/run");
  const workers = await Promise.all(
    Object.entries(passwords).map(async ([role, password]) => {
      const c = new Client({
        connectionString: urlAs(url, role, password),
        application_name: "mauntic-rehearse-worker",
      });
      c.on("error", () => undefined);
      await c.connect();
      return c;
    }),
  );
  try {
    return await runMonitor(stack, config, { database: { primaryUrl: url } });
  } finally {
    await Promise.all(workers.map((c) => c.end().catch(() => undefined)));
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
      "Rehearse a deploy with no credentials: the offline plan of a stack, the migrations and the explain check on embedded PostgreSQL with seeded data, and the Fly Redis config on a local redis-server with BullMQ",
    )
    .option("-s, --stack <name>", "stack to rehearse", "dev")
    .option("--scale <s>", "seed-data scale for the database part", "0.05")
    .option("-c, --config-file <path>", "rehearse this stack file instead of the committed Pulumi.<stack>.yaml")
    .option("--dir <path>", "folder of NNNN_<name>.sql migrations to rehearse (default: migrations/)")
    .option("--no-deploy", "skip the real deploy of dev with the Pulumi CLI against the local stand-ins")
    .addHelpText(
      "after",
      `
The Redis part runs redis-server from PATH; when it is missing the rehearsal says how to install it and runs the rest.
With a Pulumi CLI at hand (\`npm run engine\` builds one; or one on PATH), dev is also deployed for real: \`pulumi up\`
with the real engine against local stand-ins of Neon (real PostgreSQL behind its endpoints, port 5432), Fly and
Cloudflare, then \`pulumi destroy\`; the engine's own summaries, the post-deploy step's output and what is left are
printed. Without one it says how to get it.

Examples:
  npm start                                                     # = rehearse --stack dev
  npm run infra -- rehearse --stack prod --config-file ./next-prod.yaml --dir ./next-migrations

Exit codes: 0 every part passed, 1 a part failed (the plan has a mandatory violation, a migration failed, a key
query is not index-served, or the Redis checks failed), 2 bad input.`,
    )
    .action(async (opts: { stack: string; scale: string; configFile?: string; dir?: string; deploy: boolean }) => {
      const scale = parseScale(opts.scale);
      parseStackName(opts.stack); // bad input: exit 2 before starting anything
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const t0 = performance.now();
      const [plan, database, redis, deploy] = await Promise.allSettled([
        (async () => {
          const t = performance.now();
          const { runOffline } = await import("../../offline/engine"); // loaded on use, as in `plan`
          const p: Plan = await runOffline(opts.stack, { configFile: opts.configFile });
          log(`plan: done in ${fmtMs(performance.now() - t)}`);
          return p;
        })(),
        rehearseDatabase(opts.stack, scale, log, { dir: opts.dir, configFile: opts.configFile, monitor: true }),
        // The Fly Redis's exact config on Debian's redis-server (skipped, with the install command, when absent).
        proveRedis({
          memoryMb: loadStackConfigFromFile(opts.stack, { configFile: opts.configFile }).fly.redis.memoryMb,
          stack: opts.stack,
        }),
        opts.deploy
          ? import("./rehearse-deploy").then((m) => m.rehearseDeploy(opts.stack, log))
          : Promise.resolve({ ok: true, skipped: "--no-deploy", lines: [], ms: 0 }),
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
      out.push("", "== redis: the Fly Redis config on redis-server, BullMQ jobs, kill -9 and restart");
      if (redis.status === "fulfilled") {
        out.push(...renderRedisProof(redis.value));
        if (!redis.value.skipped && !redis.value.ok) failures.push(`redis: ${redis.value.problems.join("; ")}`);
      } else {
        out.push(`redis part failed: ${(redis.reason as Error).message}`);
        failures.push(`redis: ${(redis.reason as Error).message.split("\n")[0]}`);
      }
      out.push("", "== deploy: dev with the real Pulumi engine against local stand-ins of Neon, Fly and Cloudflare");
      if (deploy.status === "fulfilled") {
        const d = deploy.value;
        if (d.skipped) out.push(`skipped: ${d.skipped}`);
        else out.push(...d.lines, `deploy ${d.ok ? "ok" : "FAILED"} in ${fmtMs(d.ms)}`);
        if (!d.ok) failures.push(`deploy: ${d.lines.at(-1) ?? "failed"}`);
      } else {
        out.push(`deploy part failed: ${(deploy.reason as Error).message}`);
        failures.push(`deploy: ${(deploy.reason as Error).message.split("\n")[0]}`);
      }
      out.push("", "== monitor: the rehearsal's own database (pool utilization on real connections)");
      if (database.status === "fulfilled" && database.value.monitor) {
        const { renderMarkdown } = await import("../../monitor/run");
        const report = database.value.monitor;
        out.push(renderMarkdown(report).trimEnd());
        if (report.findings) failures.push(`monitor: ${report.findings} finding(s)`);
      } else {
        out.push("not run: the database part failed");
      }
      out.push(
        "",
        failures.length
          ? `== rehearsal FAILED in ${fmtMs(performance.now() - t0)}: ${failures.join("; ")}`
          : `== rehearsal ok in ${fmtMs(performance.now() - t0)}: plan, migrations, every key query's index${redis.status === "fulfilled" && redis.value.skipped ? "" : ", Redis for BullMQ"}`,
      );
      process.stdout.write(`${out.join("\n")}\n`);
      if (failures.length) process.exitCode = 1;
    });
}
