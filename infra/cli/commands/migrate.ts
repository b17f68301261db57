import { Option, type Command } from "commander";
import { MIGRATIONS_DIR } from "../../../migrations/runner/checksum";
import { grantsFromConfig, parseGrantsSpec, type GrantsSpec } from "../../../migrations/runner/grants-spec";
import { anyWaiting, StillWaiting, waitingOf } from "../../../migrations/runner/pending";
import { reporterFor } from "../../../migrations/runner/progress";
import { renderDryRun, renderRun, renderStatus } from "../../../migrations/runner/report";
import { Interrupted } from "../../../migrations/runner/errors";
import { DEFAULTS, dryRun, migrate, RunFailed, status } from "../../../migrations/runner/runner";
import { loadStackConfigFromFile } from "../../config/load";
import { UsageError } from "../errors";
import { parseCount, parseDuration } from "../options";

/** Milliseconds as the shortest duration text parseDuration reads back. */
function durationText(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

interface MigrateOpts {
  databaseUrl?: string;
  status?: boolean;
  dryRun?: boolean;
  json?: boolean;
  strict?: boolean;
  stack?: string;
  grants?: string;
  dir: string;
  lockTimeout: string;
  lockRetries: string;
  retryBackoff: string;
  runLockWait: string;
  connectTimeout: string;
  statementTimeout: string;
  buildDeadline: string;
}

function grantsOf(opts: MigrateOpts): GrantsSpec | undefined {
  if (opts.stack && opts.grants) throw new UsageError("--stack and --grants both given (allowed: one of them)");
  if (opts.stack) return grantsFromConfig(opts.stack, loadStackConfigFromFile(opts.stack));
  if (opts.grants) return parseGrantsSpec(opts.grants, "--grants");
  return undefined;
}

export function register(program: Command): void {
  program
    .command("migrate")
    .description("Apply the index migrations (one run at a time, never blocking writers), then the worker grants")
    .addOption(new Option("--database-url <url>", "the database's direct (unpooled) URL").env("DATABASE_URL"))
    .option("--status", "list applied, pending and changed migrations and INVALID indexes; changes nothing")
    .option("--dry-run", "show what a run would apply (migrations, heals, grant changes); changes nothing")
    .option("--json", "print the result as JSON")
    .option("--strict", "exit 1 while a migration waits for its table or a grant for its schema (CI)")
    .option("-s, --stack <name>", "enforce the worker grants of this stack's catalogue (Pulumi.<stack>.yaml)")
    .addOption(
      new Option(
        "--grants <json>",
        'grants spec {"schemas": [...], "roles": {"<role>": {"reads": [], "writes": []}}}',
      ).env("MAUNTIC_GRANTS"),
    )
    .option("--dir <path>", "folder of NNNN_<name>.sql migrations", MIGRATIONS_DIR)
    .option(
      "--lock-timeout <duration>",
      "longest wait for a lock that writers would queue behind (then retried); not index builds' waits",
      durationText(DEFAULTS.lockTimeoutMs),
    )
    .option("--lock-retries <n>", "retries after a lock wait times out", String(DEFAULTS.lockRetries))
    .option(
      "--retry-backoff <duration>",
      "first wait between retries, doubling (at most 30s)",
      durationText(DEFAULTS.retryBackoffMs),
    )
    .option(
      "--run-lock-wait <duration>",
      "how long to wait for another run to finish",
      durationText(DEFAULTS.runLockWaitMs),
    )
    .option(
      "--connect-timeout <duration>",
      "longest wait for the database to answer a connection",
      durationText(DEFAULTS.connectTimeoutMs),
    )
    .option(
      "--statement-timeout <duration>",
      "longest any statement may run, index builds excepted",
      durationText(DEFAULTS.statementTimeoutMs),
    )
    .option(
      "--build-deadline <duration>",
      "longest one index build may take, waits for other sessions included; at it the build is cancelled",
      durationText(DEFAULTS.buildDeadlineMs),
    )
    .addHelpText(
      "after",
      `
Examples:
  npm run infra -- migrate --database-url postgres://owner:pw@ep-x.us-east-2.aws.neon.tech/mauntic --stack dev
  DATABASE_URL=postgres://... npm run infra -- migrate --status
  DATABASE_URL=postgres://... npm run infra -- migrate --strict     # CI: fail while anything waits
  npm run infra -- migrate --database-url postgres://... --dry-run --json

A migration whose table does not exist yet (the application creates its tables after its first deploy) waits:
the run names the table, applies the rest and exits 0; the next run applies it once the table is there.

Waits of an index build for other sessions (open writers, old snapshots) are reported, never cut by
--lock-timeout (they queue no writer); --build-deadline bounds each build. A statement that would block
writers for a table scan or rewrite is refused unless a "-- mauntic:allow-blocking <reason>" line precedes it.

Exit codes: 0 done (waits included), 1 a migration, lock or connection failed (file:line or host on stderr) or,
with --strict, something waits, 2 bad input (a pooler URL, options), 130 interrupted by Ctrl-C (a rerun heals
what it stopped).`,
    )
    .action(async (opts: MigrateOpts) => {
      if (opts.status && opts.dryRun) throw new UsageError("--status and --dry-run both given (allowed: one of them)");
      const databaseUrl = opts.databaseUrl ?? "";
      const out = (text: string) => process.stdout.write(text);
      const session = {
        databaseUrl,
        dir: opts.dir,
        connectTimeoutMs: parseDuration(opts.connectTimeout, "--connect-timeout"),
        statementTimeoutMs: parseDuration(opts.statementTimeout, "--statement-timeout"),
      };
      if (opts.status) {
        const s = await status(session);
        out(opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
        return;
      }
      const run = {
        ...session,
        grants: grantsOf(opts),
        buildDeadlineMs: parseDuration(opts.buildDeadline, "--build-deadline"),
        lockTimeoutMs: parseDuration(opts.lockTimeout, "--lock-timeout"),
        lockRetries: parseCount(opts.lockRetries, "--lock-retries", 0, 999),
        retryBackoffMs: parseDuration(opts.retryBackoff, "--retry-backoff"),
        runLockWaitMs: parseDuration(opts.runLockWait, "--run-lock-wait"),
        reporter: reporterFor(process.stderr),
      };
      if (opts.dryRun) {
        const d = await dryRun(run);
        out(opts.json ? `${JSON.stringify(d, null, 2)}\n` : renderDryRun(d));
        return;
      }
      // Ctrl-C ends the run's sessions and reports what it stopped; a second Ctrl-C leaves at once.
      // (A repeat within 2 s is the same Ctrl-C: tsx relays the signal its child may also have had from the terminal.)
      const interrupt = new AbortController();
      let interruptedAt = 0;
      const onSigint = () => {
        if (!interruptedAt) {
          interruptedAt = Date.now();
          interrupt.abort();
        } else if (Date.now() - interruptedAt > 2000) process.exit(130);
      };
      process.on("SIGINT", onSigint);
      try {
        const r = await migrate({ ...run, signal: interrupt.signal });
        const waiting = waitingOf(r);
        const strictFail = opts.strict === true && anyWaiting(waiting);
        out(opts.json ? `${JSON.stringify({ ok: !strictFail, ...r, waiting }, null, 2)}\n` : renderRun(r));
        if (strictFail) throw new StillWaiting(waiting);
      } catch (e) {
        if (e instanceof RunFailed && e.failure instanceof Interrupted) {
          out(
            opts.json
              ? `${JSON.stringify({ ok: false, error: e.message, ...e.result }, null, 2)}\n`
              : renderRun(e.result),
          );
          process.stderr.write(`${e.message}\n`);
          process.exitCode = 130; // 128 + SIGINT, as a shell reports a Ctrl-C
          return;
        }
        if (e instanceof RunFailed) {
          // What was applied before the failure stays applied: show it, then fail with the reason.
          out(
            opts.json
              ? `${JSON.stringify({ ok: false, error: e.message, ...e.result }, null, 2)}\n`
              : renderRun(e.result),
          );
        }
        throw e;
      } finally {
        process.off("SIGINT", onSigint);
      }
    });
}
