/**
 * The migration runner: applies `migrations/NNNN_<name>.sql` to one database, one run at a time, without ever
 * making writers wait longer than the lock timeout, and heals what an earlier failed run left behind.
 *
 * A run with nothing to do makes three queries after connecting: session settings + the run lock, ledger
 * (created if missing) + its rows, and the grant state. The run lock is released by closing the session.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Client, DatabaseError, QueryConfig } from "pg";
import { BuildDeadline, describeBlockers, waitForOpenWriters, watchBuild, type BuildWait } from "./build-wait";
import {
  APPLICATION_NAME,
  checkDatabaseUrl,
  CONNECT_TIMEOUT_MS,
  describeUrl,
  openClient,
  settingsSql,
  timeoutsSql,
} from "./connect";
import { Interrupted, MigrationError, RunnerError } from "./errors";
import { readMigrations, type IndexTarget, type MigrationFile, type Statement } from "./files";
import { applyGrants, planGrants, readGrantRows, type GrantPlan } from "./grants";
import type { GrantsSpec } from "./grants-spec";
import { connectionLost, explainFailure, statementErrorText } from "./hints";
import { compareDefinition } from "./index-definition";
import { checkLedger, ensureAndReadLedger, readLedger, recordAppliedQuery, type LedgerRow } from "./ledger";
import { missingRelation, missingTables } from "./pending";
import { silentReporter, type Reporter } from "./progress";
import { fmtMs } from "./report";

/**
 * Session advisory lock key of "a migration run on this database" (advisory locks are per database). Below 2^31
 * so pg_locks shows it whole in `objid`.
 */
export const RUN_LOCK_KEY = 1_835_100_521;

export interface RunOptions {
  databaseUrl: string;
  /** Folder of NNNN_<name>.sql files (default: the repository's migrations/). */
  dir?: string;
  /** Worker grants to enforce after the migrations; none when absent. */
  grants?: GrantsSpec;
  /** lock_timeout of the runner's session. */
  lockTimeoutMs?: number;
  /** Retries of a statement whose lock wait hit the timeout. */
  lockRetries?: number;
  /** First backoff between retries; doubles each retry, at most 30 s. */
  retryBackoffMs?: number;
  /** How long to wait for another run's lock before giving up. */
  runLockWaitMs?: number;
  /** client_connection_check_interval: how soon the server stops a killed runner's statement. */
  connectionCheckMs?: number;
  /** Bound of a connection's startup. */
  connectTimeoutMs?: number;
  /** statement_timeout of every statement except the index builds. */
  statementTimeoutMs?: number;
  /** The longest one index build (its waits included) may take; at it, the build is cancelled. */
  buildDeadlineMs?: number;
  progressIntervalMs?: number;
  /** How often a build's wait that goes on is reported again. */
  waitReportMs?: number;
  reporter?: Reporter;
  /** Aborting it (Ctrl-C) ends the run's sessions at once; the run fails with Interrupted, saying what it stopped. */
  signal?: AbortSignal;
}

export const DEFAULTS = {
  lockTimeoutMs: 3_000,
  lockRetries: 5,
  retryBackoffMs: 1_000,
  runLockWaitMs: 300_000,
  connectionCheckMs: 500,
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  statementTimeoutMs: 300_000,
  buildDeadlineMs: 6 * 3_600_000,
  progressIntervalMs: 500,
  waitReportMs: 30_000,
} as const;

const MAX_BACKOFF_MS = 30_000;

/** `waiting`: its table does not exist yet (./pending.ts); it applies on a later run. */
export type OutcomeStatus = "applied" | "already applied" | "pending" | "waiting" | "failed" | "interrupted";

export interface MigrationOutcome {
  version: number;
  name: string;
  file: string;
  status: OutcomeStatus;
  durationMs?: number;
  /** Indexes found INVALID (an earlier failure), dropped and rebuilt by this run. */
  healed: string[];
  /** Lock waits that hit the timeout and were retried. */
  retries: number;
  /** Indexes that already existed, valid, and were recorded without a build. */
  existing: string[];
  /** Tables (or schemas) a waiting migration needs. */
  waitingFor?: string[];
  /** What its index builds waited for (other sessions' transactions and snapshots). */
  waits: BuildWait[];
  /** The highest applied version, when this pending one is numbered below it. */
  belowApplied?: number;
}

export interface RunResult {
  database: string;
  migrations: MigrationOutcome[];
  grants: (GrantPlan & { applied: boolean }) | { skipped: string };
  /** Ledger rows whose file is not in the folder. */
  missingFiles: LedgerRow[];
  /** Time spent waiting for another run to finish. */
  waitedForRunMs: number;
}

/** A failed run still reports what it applied before the failure. */
export class RunFailed extends RunnerError {
  override name = "RunFailed";
  constructor(
    readonly failure: Error,
    readonly result: RunResult,
  ) {
    super(failure.message);
  }
}

type Settings = Required<Omit<RunOptions, "databaseUrl" | "dir" | "grants" | "reporter" | "signal">>;

function settingsOf(opts: RunOptions): Settings {
  return {
    lockTimeoutMs: opts.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
    lockRetries: opts.lockRetries ?? DEFAULTS.lockRetries,
    retryBackoffMs: opts.retryBackoffMs ?? DEFAULTS.retryBackoffMs,
    runLockWaitMs: opts.runLockWaitMs ?? DEFAULTS.runLockWaitMs,
    connectionCheckMs: opts.connectionCheckMs ?? DEFAULTS.connectionCheckMs,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    statementTimeoutMs: opts.statementTimeoutMs ?? DEFAULTS.statementTimeoutMs,
    buildDeadlineMs: opts.buildDeadlineMs ?? DEFAULTS.buildDeadlineMs,
    progressIntervalMs: opts.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
    waitReportMs: opts.waitReportMs ?? DEFAULTS.waitReportMs,
  };
}

export function backoffMs(base: number, retry: number): number {
  return Math.min(base * 2 ** (retry - 1), MAX_BACKOFF_MS);
}

/** A lock wait that ran out: lock_timeout (55P03) or a deadlock victim (40P01). */
function isLockFailure(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "55P03" || code === "40P01";
}

/** file:line of a database error inside a statement (PostgreSQL's position is 1-based, in characters). */
function errorAt(e: unknown, m: MigrationFile, stmt: Statement): MigrationError {
  if (e instanceof MigrationError) return e;
  const err = e as DatabaseError;
  const pos = err.position ? Number(err.position) - 1 : -1;
  const line = stmt.line + (pos > 0 ? (stmt.sql.slice(0, pos).match(/\n/g)?.length ?? 0) : 0);
  return new MigrationError(statementErrorText(err), m.displayPath, line, err.code);
}

/** The index of that name in the table's schema, if any (index names are unique per schema). */
async function indexState(
  client: Client,
  t: IndexTarget,
): Promise<{ qualified: string; valid: boolean; sameTable: boolean } | null> {
  const { rows } = await client.query<{
    qualified: string;
    valid: boolean | null;
    same_table: boolean | null;
  }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS qualified, i.indisvalid AS valid,
            i.indrelid = to_regclass($1) AS same_table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON i.indexrelid = c.oid
      WHERE c.relname = $2 AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($1))`,
    [t.table, t.name],
  );
  const r = rows[0];
  return r ? { qualified: r.qualified, valid: r.valid === true, sameTable: r.same_table === true } : null;
}

/** One run against one database; holds its sessions and running totals. */
class Run {
  private monitor?: Client;
  private pid = 0;
  /** What the run is doing now, and what a rerun does about it if the run stops here. */
  private activity = "connecting: nothing was applied by this run; a rerun starts from the beginning";
  private phase?: string;
  private readonly reporter: Reporter;

  constructor(
    private readonly client: Client,
    private readonly url: string,
    private readonly s: Settings,
    reporter: Reporter,
  ) {
    this.reporter = {
      ...reporter,
      buildProgress: (label, p) => {
        this.phase = p.phase;
        reporter.buildProgress(label, p);
      },
    };
  }

  /** Ctrl-C: what was interrupted and what a rerun does about it. */
  interrupted(): Interrupted {
    const phase = this.phase ? ` (phase '${this.phase}')` : "";
    return new Interrupted(`interrupted while ${this.activity.replace("%PHASE%", phase)}`);
  }

  /**
   * Ends both sessions now. Closing the socket is what the server notices (client_connection_check_interval): it
   * stops the statement, rolls back a transaction, and a concurrent build leaves an INVALID index.
   */
  async interrupt(): Promise<void> {
    await Promise.all([this.client.end().catch(() => undefined), this.monitor?.end().catch(() => undefined)]);
  }

  doing(activity: string): void {
    this.activity = activity;
    this.phase = undefined;
  }

  async acquireRunLock(): Promise<number> {
    this.doing("waiting for the run lock: nothing was applied by this run; a rerun starts from the beginning");
    const started = Date.now();
    const first = (await this.client.query(
      `${settingsSql(this.s)}; SELECT pg_try_advisory_lock(${RUN_LOCK_KEY}) AS locked, pg_backend_pid() AS pid`,
    )) as unknown as { rows: { locked: boolean; pid: number }[] }[];
    const row = first[first.length - 1]!.rows[0]!;
    this.pid = row.pid;
    if (row.locked) return 0;
    const { rows } = await this.client.query<{ pid: number; application_name: string; backend_start: Date }>(
      `SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.database = (
          SELECT oid FROM pg_database WHERE datname = current_database())`,
      [RUN_LOCK_KEY],
    );
    const holder = rows[0]
      ? `pid ${rows[0].pid} [${rows[0].application_name}] connected since ${rows[0].backend_start.toISOString()}`
      : "a session that just ended";
    this.reporter.note(
      `waiting for another migration run to finish (${holder}), at most ${fmtMs(this.s.runLockWaitMs)}`,
    );
    for (;;) {
      await sleep(250);
      const { rows: r } = await this.client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(${RUN_LOCK_KEY}) AS locked`,
      );
      if (r[0]!.locked) return Date.now() - started;
      if (Date.now() - started >= this.s.runLockWaitMs) {
        throw new RunnerError(
          `another migration run still holds this database's run lock (${holder}) after ${fmtMs(this.s.runLockWaitMs)} (allowed: wait for it and rerun, or raise --run-lock-wait)`,
        );
      }
    }
  }

  private async sleepBackoff(label: string, retry: number, why: string): Promise<void> {
    const wait = backoffMs(this.s.retryBackoffMs, retry);
    this.reporter.note(`${label}: ${why}; retry ${retry}/${this.s.lockRetries} in ${fmtMs(wait)}`);
    await sleep(wait);
  }

  /** A file's SETs end with it (a plain SET outlives its transaction): back to the runner's own settings. */
  private async restoreSettings(m: MigrationFile): Promise<void> {
    if (m.statements.some((s) => s.kind === "session-setting")) {
      await this.client.query(`RESET ALL; ${settingsSql(this.s)}`);
    }
  }

  /** A transactional file: every statement and its ledger row in one transaction, retried on lock waits. */
  async applyTransactional(m: MigrationFile, outcome: MigrationOutcome): Promise<void> {
    this.doing(
      `applying ${m.file}: its transaction is rolled back as the session ends, so nothing of it stays; a rerun applies it again`,
    );
    for (const b of m.statements.filter((x) => x.blocking)) {
      this.reporter.note(`${m.file}:${b.line}: ${b.blocking!.what}; allowed by the file: ${b.blocking!.reason}`);
    }
    const started = Date.now();
    for (let retry = 0; ; retry++) {
      let current: Statement | undefined;
      try {
        await this.client.query("BEGIN");
        for (const stmt of m.statements) {
          current = stmt;
          await this.client.query(stmt.sql);
        }
        current = undefined;
        await this.client.query(recordAppliedQuery(m, Date.now() - started));
        await this.client.query("COMMIT");
        await this.restoreSettings(m);
        outcome.durationMs = Date.now() - started;
        return;
      } catch (e) {
        await this.client.query("ROLLBACK").catch(() => undefined);
        if (!isLockFailure(e) || retry >= this.s.lockRetries || !current) {
          if (current) throw errorAt(e, m, current);
          throw e;
        }
        outcome.retries++;
        await this.sleepBackoff(m.file, retry + 1, `${(e as Error).message} (line ${current.line})`);
      }
    }
  }

  /** A file of CONCURRENTLY statements: one by one, outside any transaction, then its ledger row. */
  async applyConcurrent(m: MigrationFile, outcome: MigrationOutcome): Promise<void> {
    const started = Date.now();
    for (const stmt of m.statements) {
      if (stmt.kind === "session-setting") {
        await this.client.query(stmt.sql).catch((e) => Promise.reject(errorAt(e, m, stmt)));
      } else if (stmt.kind === "create-index-concurrently") {
        await this.buildIndex(m, stmt, outcome);
      } else {
        await this.retryLockWaits(
          m.file,
          () => this.client.query(stmt.sql),
          () => outcome.retries++,
        ).catch((e) => Promise.reject(errorAt(e, m, stmt)));
      }
    }
    await this.restoreSettings(m);
    await this.client.query(recordAppliedQuery(m, Date.now() - started));
    outcome.durationMs = Date.now() - started;
  }

  /** Runs fn, retrying it (with backoff) while its lock waits run out; any other or the last failure is thrown. */
  async retryLockWaits(label: string, fn: () => Promise<unknown>, onRetry: () => void = () => undefined) {
    for (let retry = 0; ; retry++) {
      try {
        await fn();
        return;
      } catch (e) {
        if (!isLockFailure(e) || retry >= this.s.lockRetries) throw e;
        onRetry();
        await this.sleepBackoff(label, retry + 1, (e as Error).message);
      }
    }
  }

  private async monitorClient(): Promise<Client> {
    if (!this.monitor) {
      this.monitor = await openClient(this.url, `${APPLICATION_NAME}-progress`, this.s);
      // The monitor's polls are bounded like every other statement.
      await this.monitor.query(timeoutsSql(this.s));
    }
    return this.monitor;
  }

  /** Drops an INVALID index of this name, if one is there; false when it could not (a lock held past the bound). */
  private async dropIfInvalid(m: MigrationFile, t: IndexTarget): Promise<boolean> {
    const state = await indexState(this.client, t);
    if (!state || state.valid || !state.sameTable) return true;
    try {
      await this.client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${state.qualified}`);
      return true;
    } catch (e) {
      if (!isLockFailure(e)) throw e;
      this.reporter.note(
        `${m.file}: INVALID index ${state.qualified} could not be dropped yet (${(e as Error).message}); the next run drops and rebuilds it`,
      );
      return false;
    }
  }

  /**
   * Builds one CREATE INDEX CONCURRENTLY. Its waits for other sessions are reported, never cut by the lock timeout
   * (build-wait.ts says why); the operator's deadline bounds the whole build. Only the heal's DROP INDEX
   * CONCURRENTLY and a deadlock are retried.
   */
  async buildIndex(m: MigrationFile, stmt: Statement, outcome: MigrationOutcome): Promise<void> {
    const t = stmt.index!;
    const label = `${m.file}: ${t.name}`;
    this.doing(
      `building ${t.name} of ${m.file}%PHASE%: the server stops the build within ${fmtMs(this.s.connectionCheckMs)} and leaves an INVALID index, which a rerun drops and rebuilds`,
    );
    const deadlineAt = Date.now() + this.s.buildDeadlineMs;
    const ctx = {
      label,
      deadlineAt,
      reportEveryMs: this.s.waitReportMs,
      reporter: this.reporter,
      waits: outcome.waits,
    };
    for (let retry = 0; ; retry++) {
      try {
        const state = await indexState(this.client, t);
        if (state && !state.sameTable) {
          throw new MigrationError(
            `the name ${t.name} is already taken by ${state.qualified}, which is not an index of ${t.table} (allowed: a name unused in the schema)`,
            m.displayPath,
            stmt.line,
          );
        }
        if (state?.valid) {
          // IF NOT EXISTS checks the name only: an index of that name built otherwise is not this migration.
          const def = await compareDefinition(this.client, stmt, state.qualified);
          if (!def.same) {
            throw new MigrationError(
              `an index named ${t.name} already exists with another definition: ${def.existing}; this file builds: ${def.wanted} (allowed: drop or rename the existing index, or give this one another name)`,
              m.displayPath,
              stmt.line,
            );
          }
          outcome.existing.push(state.qualified);
          return;
        }
        if (state) {
          this.reporter.note(
            `${label}: INVALID index ${state.qualified} left by an earlier run: dropping and rebuilding`,
          );
          await this.client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${state.qualified}`);
          if (!outcome.healed.includes(state.qualified)) outcome.healed.push(state.qualified);
        }
        await waitForOpenWriters(this.client, t.table, ctx);
        const monitor = await this.monitorClient();
        this.reporter.buildStarted(label);
        // Waits inside the build queue no writer: no lock or statement timeout for it, the deadline instead.
        await this.client.query("SET lock_timeout = 0; SET statement_timeout = 0");
        const watch = watchBuild(monitor, this.pid, { ...ctx, intervalMs: this.s.progressIntervalMs });
        let failure: unknown;
        try {
          // A client-side bound too, in case the server can no longer answer (a dead network).
          // node-postgres reads a per-query `query_timeout` (pg/lib/client.js), which its types leave out.
          const query = { text: stmt.sql, query_timeout: clampTimer(deadlineAt - Date.now() + 60_000) };
          await this.client.query(query as QueryConfig);
        } catch (e) {
          failure = e;
        }
        const { deadline } = await watch.stop();
        await this.client.query(timeoutsSql(this.s));
        if (deadline) throw deadline;
        if (failure) throw failure;
        const after = await indexState(this.client, t);
        if (!after?.valid) {
          throw new MigrationError(`${t.name} is not valid after its build`, m.displayPath, stmt.line);
        }
        this.reporter.buildEnded(label);
        return;
      } catch (e) {
        if (e instanceof BuildDeadline) {
          const dropped = await this.dropIfInvalid(m, t).catch(() => false);
          throw new MigrationError(
            `${t.name}: the build reached its deadline ${fmtMs(this.s.buildDeadlineMs)} while ${e.phase}: ${describeBlockers(e.blockers)}; it was cancelled${dropped ? " and nothing INVALID is left" : ""} (allowed: end those sessions or raise --build-deadline, and rerun)`,
            m.displayPath,
            stmt.line,
          );
        }
        if (!isLockFailure(e)) {
          // A failed build (e.g. duplicates for a unique index) leaves an INVALID index: do not leave it behind.
          if (!(e instanceof MigrationError)) await this.dropIfInvalid(m, t).catch(() => undefined);
          throw errorAt(e, m, stmt);
        }
        if (retry >= this.s.lockRetries) {
          await this.dropIfInvalid(m, t);
          throw new MigrationError(
            `${t.name}: gave up after ${retry + 1} lock waits of ${fmtMs(this.s.lockTimeoutMs)}: ${(e as Error).message} (allowed: rerun when the table is quieter, or raise --lock-retries)`,
            m.displayPath,
            stmt.line,
          );
        }
        outcome.retries++;
        await this.sleepBackoff(label, retry + 1, (e as Error).message);
      }
    }
  }

  async close(): Promise<void> {
    await this.monitor?.end().catch(() => undefined);
  }
}

function outcomeOf(m: MigrationFile, status: OutcomeStatus): MigrationOutcome {
  return { version: m.version, name: m.name, file: m.file, status, healed: [], retries: 0, existing: [], waits: [] };
}

function outcomesOf(files: MigrationFile[], ledger: LedgerRow[]): MigrationOutcome[] {
  const applied = new Set(ledger.map((r) => r.version));
  return files.map((f) => outcomeOf(f, applied.has(f.version) ? "already applied" : "pending"));
}

/**
 * A migration applied below one already applied (two branches merged in another order, or one that waited for its
 * table) is said so, not refused: index migrations do not depend on each other, and refusing would leave a file
 * that waited for its table pending for ever.
 */
function noteOutOfOrder(o: MigrationOutcome, highest: number, reporter: Reporter): void {
  o.belowApplied = highest;
  const h = String(highest).padStart(4, "0");
  reporter.note(
    `${o.file}: numbered below ${h}, which was already applied: applied out of order (rename it above ${h} if it must come after)`,
  );
}

/** Node's timers hold at most 2^31-1 ms (about 24.8 days). */
const clampTimer = (ms: number): number => Math.max(1, Math.min(ms, 2 ** 31 - 1));

const NO_GRANTS = { skipped: "no --stack or --grants given" };

type SessionOptions = Pick<
  RunOptions,
  "databaseUrl" | "dir" | "connectTimeoutMs" | "statementTimeoutMs" | "lockTimeoutMs"
>;

/**
 * One session for one call: the URL is checked and every file read and parsed before connecting (a bad file fails
 * with nothing run), and the session always ends (which releases the run lock).
 */
async function withSession<T>(
  opts: SessionOptions,
  fn: (client: Client, files: MigrationFile[], database: string) => Promise<T>,
  readOnly = false,
): Promise<T> {
  const database = describeUrl(checkDatabaseUrl(opts.databaseUrl));
  const files = await readMigrations(opts.dir);
  const s = settingsOf(opts);
  const client = await openClient(opts.databaseUrl, APPLICATION_NAME, s);
  try {
    // A run sends its settings with its first query; --status and --dry-run set the same bounds here.
    if (readOnly) await client.query(timeoutsSql(s));
    return await fn(client, files, database);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Applies pending migrations, then the grants. Throws RunFailed (with what was applied) on a failure. */
export async function migrate(opts: RunOptions): Promise<RunResult> {
  const s = settingsOf(opts);
  const reporter = opts.reporter ?? silentReporter;
  return withSession(opts, async (client, files, database) => {
    const run = new Run(client, opts.databaseUrl, s, reporter);
    const result: RunResult = { database, migrations: [], grants: NO_GRANTS, missingFiles: [], waitedForRunMs: 0 };
    const onAbort = () => void run.interrupt();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (opts.signal?.aborted) throw run.interrupted();
      result.waitedForRunMs = await run.acquireRunLock();
      const ledger = await ensureAndReadLedger(client);
      // Counted before any check can fail, so that a failed run's summary still says what is applied.
      result.migrations = outcomesOf(files, ledger);
      const { pending, missingFiles } = checkLedger(files, ledger);
      result.missingFiles = missingFiles;
      const highestApplied = Math.max(0, ...ledger.map((r) => r.version));
      const absent = await missingTables(client, pending);
      for (const m of pending) {
        const outcome = result.migrations.find((o) => o.version === m.version)!;
        const waitingFor = absent.get(m.version);
        if (waitingFor) {
          Object.assign(outcome, { status: "waiting", waitingFor });
          continue;
        }
        try {
          if (m.concurrent) await run.applyConcurrent(m, outcome);
          else await run.applyTransactional(m, outcome);
          outcome.status = "applied";
          if (m.version < highestApplied) noteOutOfOrder(outcome, highestApplied, reporter);
        } catch (e) {
          const missing = opts.signal?.aborted ? undefined : missingRelation(e);
          if (missing) {
            Object.assign(outcome, { status: "waiting", waitingFor: [missing] });
            continue;
          }
          outcome.status = opts.signal?.aborted ? "interrupted" : "failed";
          throw e;
        }
      }
      if (opts.grants) {
        run.doing("applying the worker grants: their transaction is rolled back; a rerun applies them again");
        const plan = planGrants(opts.grants, await readGrantRows(client, opts.grants));
        await run
          .retryLockWaits("grants", () => applyGrants(client, plan.changes))
          .catch((e: Error) => Promise.reject(new RunnerError(`grants: ${e.message}`)));
        result.grants = { ...plan, applied: plan.changes.length > 0 };
      }
      return result;
    } catch (e) {
      if (opts.signal?.aborted) throw new RunFailed(run.interrupted(), result);
      // Failed before the ledger was read (the run lock, a read-only database): read it now, for the summary.
      if (!result.migrations.length && !connectionLost(e)) {
        const rows = await readLedger(client).catch(() => undefined);
        if (rows) result.migrations = outcomesOf(files, rows);
      }
      throw new RunFailed((await explainFailure(e, client, database, s.statementTimeoutMs)) as Error, result);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      await run.close();
    }
  });
}

export interface StatusEntry {
  version: number;
  name: string;
  file: string | null;
  status: "applied" | "pending" | "changed since applied" | "file missing";
  appliedAt?: string;
  durationMs?: number;
  appliedBy?: string;
  checksum: string;
}

export interface StatusResult {
  database: string;
  migrations: StatusEntry[];
  /** INVALID indexes anywhere in the database (a failed build the next run heals, if it is a pending one). */
  invalidIndexes: string[];
}

/** Read-only: what is applied, pending, changed or missing; never takes the run lock or creates the ledger. */
export async function status(opts: SessionOptions): Promise<StatusResult> {
  return withSession(
    opts,
    async (client, files, database) => {
      const rows = await readLedger(client);
      const byVersion = new Map(rows.map((r) => [r.version, r]));
      const entries: StatusEntry[] = files.map((f) => {
        const r = byVersion.get(f.version);
        const base = { version: f.version, name: f.name, file: f.file, checksum: f.checksum };
        if (!r) return { ...base, status: "pending" };
        return {
          ...base,
          status: r.checksum === f.checksum ? "applied" : "changed since applied",
          appliedAt: r.appliedAt.toISOString(),
          durationMs: r.durationMs,
          appliedBy: r.appliedBy,
        };
      });
      const versions = new Set(files.map((f) => f.version));
      for (const r of rows.filter((x) => !versions.has(x.version))) {
        entries.push({
          version: r.version,
          name: r.name,
          file: null,
          status: "file missing",
          appliedAt: r.appliedAt.toISOString(),
          durationMs: r.durationMs,
          appliedBy: r.appliedBy,
          checksum: r.checksum,
        });
      }
      entries.sort((a, b) => a.version - b.version);
      const { rows: invalid } = await client.query<{ index: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS index
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT i.indisvalid ORDER BY 1`,
      );
      return { database, migrations: entries, invalidIndexes: invalid.map((r) => r.index) };
    },
    true,
  );
}

export interface DryRunResult {
  database: string;
  pending: {
    version: number;
    file: string;
    statements: { line: number; kind: string; sql: string; blocking?: Statement["blocking"] }[];
  }[];
  /** Indexes of pending migrations that are INVALID now: the run would drop and rebuild them. */
  wouldHeal: string[];
  /** Pending migrations whose tables do not exist yet: a run would leave them waiting. */
  waiting: { version: number; file: string; waitingFor: string[] }[];
  grants: GrantPlan | { skipped: string };
  missingFiles: LedgerRow[];
}

/** What a run would do, without the run lock and without writing anything. Drift is refused as in a run. */
export async function dryRun(opts: RunOptions): Promise<DryRunResult> {
  return withSession(
    opts,
    async (client, files, database) => {
      const { pending, missingFiles } = checkLedger(files, await readLedger(client));
      const targets = pending.flatMap((m) => m.statements.flatMap((s) => (s.index ? [s.index] : [])));
      const wouldHeal: string[] = [];
      for (const t of targets) {
        // What buildIndex heals: an INVALID index of that name on that table.
        const state = await indexState(client, t);
        if (state && state.sameTable && !state.valid) wouldHeal.push(state.qualified);
      }
      const grants = opts.grants ? planGrants(opts.grants, await readGrantRows(client, opts.grants)) : NO_GRANTS;
      const absent = await missingTables(client, pending);
      return {
        database,
        pending: pending.map((m) => ({
          version: m.version,
          file: m.file,
          statements: m.statements.map((s) => ({ line: s.line, kind: s.kind, sql: s.sql, blocking: s.blocking })),
        })),
        wouldHeal,
        waiting: pending.flatMap((m) =>
          absent.has(m.version) ? [{ version: m.version, file: m.file, waitingFor: absent.get(m.version)! }] : [],
        ),
        grants,
        missingFiles,
      };
    },
    true,
  );
}
