/**
 * What a CREATE INDEX CONCURRENTLY waits for, and why those waits are not cut by the lock timeout.
 *
 * A concurrent build waits, by design, for other sessions (PostgreSQL 17, "Building Indexes Concurrently",
 * https://www.postgresql.org/docs/17/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY): before each of its two
 * table scans for the transactions that modified the table, and after the second scan for every transaction whose
 * snapshot predates it. It waits on those transactions' virtual xid locks, so `lock_timeout` ("any wait for a lock",
 * https://www.postgresql.org/docs/17/runtime-config-client.html#GUC-LOCK-TIMEOUT) cancels it there too, at "waiting
 * for old snapshots" after all the work is done. None of these waits makes a writer queue: the build holds and
 * requests only SHARE UPDATE EXCLUSIVE on the table, which ROW EXCLUSIVE does not conflict with (Table 13.2,
 * https://www.postgresql.org/docs/17/explicit-locking.html#LOCKING-TABLES). So the runner lifts lock_timeout and
 * statement_timeout for the build alone, reports each wait (phase from pg_stat_progress_create_index, sessions
 * from pg_blocking_pids and current_locker_pid, https://www.postgresql.org/docs/17/progress-reporting.html
 * #CREATE-INDEX-PROGRESS-REPORTING), and bounds the whole build by the operator's deadline instead.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { percentOf, type ProgressCounters, type Reporter } from "./progress";
import { fmtMs } from "./report";

/** One wait of a build for other sessions, as the run reports it. */
export interface BuildWait {
  /** PostgreSQL's phase (e.g. `waiting for old snapshots`), or the runner's own wait before the build. */
  phase: string;
  /** The sessions waited for. */
  pids: number[];
  ms: number;
}

/** A session a build waits for, described from pg_stat_activity. */
export interface Blocker {
  pid: number;
  app: string | null;
  state: string | null;
  /** How long its transaction has been open, in ms. */
  xact_ms: number | null;
  /** Its snapshot's xmin (what "waiting for old snapshots" waits on). */
  xmin: string | null;
}

export function describeBlockers(blockers: Blocker[]): string {
  if (!blockers.length) return "sessions that just ended";
  const shown = blockers.slice(0, 3).map((b) => {
    let text = b.pid ? `pid ${b.pid}` : "a prepared transaction";
    if (b.app) text += ` [${b.app}]`;
    if (b.state) text += ` ${b.state}`;
    if (b.xact_ms !== null) text += `, transaction open ${fmtMs(b.xact_ms)}`;
    if (b.xmin) text += `, snapshot xmin ${b.xmin}`;
    return text;
  });
  return `${shown.join(", ")}${blockers.length > 3 ? ` and ${blockers.length - 3} more` : ""}`;
}

const BLOCKER_JSON = `json_build_object('pid', b.pid, 'app', nullif(b.application_name, ''), 'state', b.state,
  'xact_ms', (extract(epoch FROM clock_timestamp() - b.xact_start) * 1000)::bigint, 'xmin', b.backend_xmin::text)`;

/** The build's deadline ran out: carries what it was waiting for. */
export class BuildDeadline extends Error {
  constructor(
    readonly phase: string,
    readonly blockers: Blocker[],
  ) {
    super(`deadline reached ${phase === "building" ? "while building" : `while ${phase}`}`);
  }
}

export interface WaitContext {
  label: string;
  /** Epoch ms at which the build must be over. */
  deadlineAt: number;
  /** How often a wait that goes on is reported again. */
  reportEveryMs: number;
  reporter: Reporter;
  /** Finished waits are appended here. */
  waits: BuildWait[];
}

/** Tracks one wait at a time: reports its start, reports again while it lasts, records it when it ends. */
class WaitTracker {
  private current?: { phase: string; since: number; pids: Set<number>; lastReport: number };

  constructor(private readonly ctx: WaitContext) {}

  /** One observation: waiting in `phase` for `blockers`, or not waiting (phase undefined). */
  observe(phase: string | undefined, blockers: Blocker[], now = Date.now()): void {
    if (this.current && this.current.phase !== phase) this.end(now);
    if (!phase) return;
    if (!this.current) {
      this.current = { phase, since: now, pids: new Set(), lastReport: now };
      this.ctx.reporter.note(
        `${this.ctx.label}: ${phase}: ${describeBlockers(blockers)}; this wait blocks no writer, so the lock timeout does not cut it (the build's deadline is in ${fmtMs(Math.max(0, this.ctx.deadlineAt - now))})`,
      );
    } else if (now - this.current.lastReport >= this.ctx.reportEveryMs) {
      this.current.lastReport = now;
      this.ctx.reporter.note(
        `${this.ctx.label}: still ${phase} after ${fmtMs(now - this.current.since)}: ${describeBlockers(blockers)}`,
      );
    }
    for (const b of blockers) this.current.pids.add(b.pid);
  }

  end(now = Date.now()): void {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    const wait = { phase: c.phase, pids: [...c.pids].sort((a, b) => a - b), ms: now - c.since };
    this.ctx.waits.push(wait);
    this.ctx.reporter.note(
      `${this.ctx.label}: waited ${fmtMs(wait.ms)} ${c.phase.replace(/^waiting /, "")}${wait.pids.length ? ` (pid ${wait.pids.join(", ")})` : ""}`,
    );
  }
}

/**
 * Before the build creates its catalog entry: waits until the transactions that now hold a lock the build would
 * wait for (anything stronger than ROW SHARE on the table) have ended, at most until the deadline. Waiting here
 * rather than inside the build means a deadline that runs out leaves no INVALID index behind, and an INVALID index
 * cannot be dropped while such a transaction lives. Later transactions do not matter: the build waits only for these.
 */
export async function waitForOpenWriters(client: Client, table: string, ctx: WaitContext): Promise<void> {
  const sql = `SELECT l.virtualtransaction AS vxid, ${BLOCKER_JSON} AS blocker
      FROM pg_locks l LEFT JOIN pg_stat_activity b ON b.pid = l.pid
     WHERE l.locktype = 'relation' AND l.relation = to_regclass($1) AND l.granted
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.pid IS DISTINCT FROM pg_backend_pid() AND l.mode NOT IN ('AccessShareLock', 'RowShareLock')`;
  const phase = "waiting for open transactions that wrote to the table (before the build starts)";
  const tracker = new WaitTracker(ctx);
  type Row = { vxid: string; blocker: Blocker };
  const first = (await client.query<Row>(sql, [table])).rows;
  let waiting = new Map(first.map((r) => [r.vxid, r.blocker]));
  const poll = Math.max(20, Math.min(250, ctx.reportEveryMs / 10));
  while (waiting.size) {
    const blockers = [...new Map([...waiting.values()].map((b) => [b.pid, b])).values()];
    if (Date.now() >= ctx.deadlineAt) {
      tracker.end();
      throw new BuildDeadline(phase, blockers);
    }
    tracker.observe(phase, blockers);
    await sleep(poll);
    const now = new Map((await client.query<Row>(sql, [table])).rows.map((r) => [r.vxid, r.blocker]));
    waiting = new Map([...now].filter(([v]) => waiting.has(v)));
  }
  tracker.end();
}

interface PollRow extends ProgressCounters {
  phase: string | null;
  wait_event_type: string | null;
  wait_event: string | null;
  blockers: Blocker[] | null;
}

/**
 * Watches the build of backend `pid` from a second session: progress, waits, and the deadline. At the deadline it
 * cancels the build (pg_cancel_backend) and remembers what it was waiting for. Polls never overlap; a failed poll
 * (the monitor session dropped) ends the watch, never the build.
 */
export function watchBuild(
  monitor: Client,
  pid: number,
  ctx: WaitContext & { intervalMs: number },
): { stop(): Promise<{ deadline?: BuildDeadline }> } {
  const tracker = new WaitTracker(ctx);
  let stopped = false;
  let deadline: BuildDeadline | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  // pg_blocking_pids needs exclusive access to the lock manager's shared state for a short time, so frequent calls
  // cost (https://www.postgresql.org/docs/17/functions-info.html): called only while the build waits on a lock, and
  // once per poll (MATERIALIZED), not once per pg_stat_activity row. current_locker_pid names the transaction a
  // lockers phase waits on.
  const sql = `WITH w AS MATERIALIZED (
      SELECT a.pid, a.wait_event_type, a.wait_event,
             CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END AS pids
        FROM pg_stat_activity a WHERE a.pid = $1)
    SELECT p.phase, p.blocks_total, p.blocks_done, p.tuples_total, p.tuples_done, p.lockers_total,
           p.lockers_done, w.wait_event_type, w.wait_event,
           (SELECT json_agg(${BLOCKER_JSON} ORDER BY b.pid) FROM pg_stat_activity b
             WHERE w.wait_event_type = 'Lock'
               AND (b.pid = ANY (w.pids) OR b.pid = nullif(p.current_locker_pid, 0))) AS blockers
      FROM w LEFT JOIN pg_stat_progress_create_index p ON p.pid = w.pid`;
  const poll = () => {
    inFlight = monitor
      .query<PollRow>(sql, [pid])
      .then(async ({ rows }) => {
        const r = rows[0];
        if (stopped || !r) return;
        const waitingFor =
          r.wait_event_type === "Lock"
            ? r.phase && r.phase !== "initializing"
              ? r.phase
              : `waiting for a ${r.wait_event ?? "lock"} lock on the table`
            : undefined;
        if (r.phase) ctx.reporter.buildProgress(ctx.label, { phase: r.phase, percent: percentOf(r) });
        tracker.observe(waitingFor, r.blockers ?? []);
        if (Date.now() >= ctx.deadlineAt && !deadline) {
          deadline = new BuildDeadline(waitingFor ?? r.phase ?? "building", r.blockers ?? []);
          tracker.end();
          await monitor.query("SELECT pg_cancel_backend($1)", [pid]);
        }
      })
      .catch(() => {
        stopped = true;
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(poll, ctx.intervalMs);
      });
  };
  timer = setTimeout(poll, Math.min(100, ctx.intervalMs));
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
      tracker.end();
      return { deadline };
    },
  };
}
