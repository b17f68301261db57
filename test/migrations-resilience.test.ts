/**
 * The runner under trouble, on embedded PostgreSQL 17: killed with SIGKILL mid-build, builds that wait for other
 * sessions (open writers, old snapshots, a writer that starts mid-build) past the lock timeout, the build's
 * deadline, and writers during a run.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFixture } from "../migrations/fixture/load";
import { readMigrations } from "../migrations/runner/files";
import { lineReporter, type Reporter } from "../migrations/runner/progress";
import { renderRun } from "../migrations/runner/report";
import { dryRun, migrate, RunFailed, status, type RunOptions } from "../migrations/runner/runner";
import { ROOT, runCli } from "./helpers/cli";
import { usePostgres } from "../migrations/embedded";
import { fixtureDb, invalidIndexes, ledgerVersions, withClient } from "./helpers/db";
import { until as waitUntil } from "./helpers/until";

const pg = usePostgres({ beforeAll, afterAll });
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const MAIN = path.join(ROOT, "infra", "cli", "main.ts");
const GIN = "idx_contacts_custom_fields_gin";
const CONTACTS = 250_000;
let ALL: number[] = [];

/** A database with the fixture and enough contacts that the GIN build (0005) takes seconds. */
beforeAll(async () => {
  ALL = (await readMigrations(path.join(ROOT, "migrations"))).map((m) => m.version);
  const url = await pg.newDatabase({ name: "big" });
  await loadFixture(url);
  await withClient(url, async (c) => {
    await c.query(`INSERT INTO crm.contacts (organization_id, email, status, custom_fields)
      SELECT ('00000000-0000-0000-0000-' || lpad((i % 50)::text, 12, '0'))::uuid, 'c' || i || '@example.com',
             CASE WHEN i % 10 = 0 THEN 'archived' ELSE 'active' END,
             jsonb_build_object('city', (ARRAY['New York', 'Paris', 'Berlin', 'Tokyo', 'Lima'])[1 + i % 5],
                                'score', i % 100, 'plan', 'p' || (i % 7), 'tag', 't' || (i % 1000), 'ref', i)
        FROM generate_series(1, ${CONTACTS}) i`);
    await c.query("VACUUM ANALYZE crm.contacts");
  });
}, 180_000);

/** The builds here run over large tables: a minute before giving up. */
const until = <T>(what: string, fn: () => Promise<T | undefined>) => waitUntil(what, fn, 60_000);

/** Notes and build events of an in-process run, with a hook on each note. */
function recorder(onNote: (line: string) => void = () => undefined) {
  const lines: string[] = [];
  const plain = lineReporter({ write: (s: string) => lines.push(...s.trimEnd().split("\n")) });
  const events: { label: string; at: number; what: "start" | "end" }[] = [];
  const reporter: Reporter = {
    note: (l) => {
      plain.note(l);
      onNote(l);
    },
    buildStarted: (label) => {
      events.push({ label, at: Date.now(), what: "start" });
      plain.buildStarted(label);
    },
    buildProgress: (label, p) => plain.buildProgress(label, p),
    buildEnded: (label) => {
      events.push({ label, at: Date.now(), what: "end" });
      plain.buildEnded(label);
    },
  };
  return { lines, events, reporter };
}

const fast: Partial<RunOptions> = { lockTimeoutMs: 300, lockRetries: 3, retryBackoffMs: 100 };

const pidOf = async (c: Client): Promise<number> => (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;

/** How long a "still <phase> after <duration>" note says the runner has waited, in ms; 0 for other lines. */
function stillWaitingMs(line: string, phase: string): number {
  const m = new RegExp(`still waiting for ${phase.replace(/[()]/g, "\\$&")}.* after (\\d+(?:\\.\\d+)?)(ms|s):`).exec(
    line,
  );
  return m ? Number(m[1]) * (m[2] === "s" ? 1000 : 1) : 0;
}

/** How many times the run started building an index. */
const builds = (rec: ReturnType<typeof recorder>, index: string): number =>
  rec.events.filter((e) => e.label.endsWith(index) && e.what === "start").length;

/** Transactions left open by a second session while the runner works. */
const OPEN = {
  // An open write transaction on 0001's table: CREATE INDEX CONCURRENTLY would have to wait for it.
  write: [
    "BEGIN",
    "INSERT INTO analytics.contact_activity (organization_id, contact_id, event_type) VALUES (gen_random_uuid(), gen_random_uuid(), 'open')",
  ],
  // A long transaction's snapshot: the build passes its lock checks, then waits for old snapshots.
  snapshot: ["BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT 1"],
};

/** Runs fn while `holder`, a session on url, has that transaction open (fn ends it, or closing the session does). */
function holding(url: string, open: keyof typeof OPEN, fn: (holder: Client) => Promise<void>): Promise<void> {
  return withClient(url, async (holder) => {
    for (const sql of OPEN[open]) await holder.query(sql);
    await fn(holder);
  });
}

describe("the runner under trouble", () => {
  it("killed with SIGKILL mid-build: the rerun drops the INVALID index, rebuilds it, and none is left", async () => {
    const url = await pg.newDatabase({ template: "big" });
    const child = spawn(TSX, [MAIN, "migrate", "--database-url", url], {
      cwd: ROOT,
      detached: true, // its own process group: SIGKILL reaches tsx's node child too
      stdio: ["ignore", "ignore", "ignore"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, sig) => resolve(sig)));
    const phase = await withClient(url, (c) =>
      until("the GIN build", async () => {
        const { rows } = await c.query<{ phase: string }>(
          `SELECT p.phase FROM pg_stat_progress_create_index p JOIN pg_class i ON i.oid = p.index_relid
            WHERE i.relname = $1 AND p.phase LIKE 'building index%'`,
          [GIN],
        );
        return rows[0]?.phase;
      }),
    );
    process.kill(-child.pid!, "SIGKILL");
    expect(await exited).toBe("SIGKILL");
    // The server notices the vanished client within client_connection_check_interval and aborts the build.
    await withClient(url, (c) =>
      until("the killed runner's sessions to end", async () => {
        const { rows } = await c.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'mauntic-migrate%'",
        );
        return rows[0].n === 0 ? true : undefined;
      }),
    );
    const before = await status({ databaseUrl: url });
    expect(before.invalidIndexes).toEqual([`crm.${GIN}`]);
    expect(before.migrations.find((m) => m.name === "contacts_custom_fields_gin")?.status).toBe("pending");
    expect((await dryRun({ databaseUrl: url })).wouldHeal).toEqual([`crm.${GIN}`]);
    console.log(`figure: killed during '${phase}' of ${GIN} over ${CONTACTS} contacts`);

    const rerun = await runCli(["migrate", "--database-url", url]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`INVALID index crm.${GIN} left by an earlier run: dropping and rebuilding`);
    expect(rerun.stdout).toMatch(
      new RegExp(`0005\\s+contacts_custom_fields_gin\\s+applied\\s+\\S+\\s+rebuilt INVALID crm\\.${GIN}`),
    );
    expect(await invalidIndexes(url)).toEqual([]);
    expect(await ledgerVersions(url)).toEqual(ALL);
  });

  it("a write transaction open before the build: the runner waits for it past the lock timeout, says so, builds once", async () => {
    const url = await fixtureDb(pg);
    await holding(url, "write", async (holder) => {
      const holderPid = await pidOf(holder);
      let released: Promise<unknown> | undefined;
      const rec = recorder((line) => {
        // Released only once the wait has outlasted the lock timeout three times over.
        if (stillWaitingMs(line, "open transactions that wrote to the table") >= 3 * fast.lockTimeoutMs!) {
          released ??= holder.query("COMMIT");
        }
      });
      const r = await migrate({ databaseUrl: url, ...fast, waitReportMs: 100, reporter: rec.reporter });
      await released;
      expect(released).toBeDefined();
      expect(r.migrations.every((m) => m.status === "applied")).toBe(true);
      expect(r.migrations[0]!).toMatchObject({ retries: 0, healed: [] });
      expect(r.migrations[0]!.waits).toEqual([
        {
          phase: "waiting for open transactions that wrote to the table (before the build starts)",
          pids: [holderPid],
          ms: expect.any(Number),
        },
      ]);
      expect(r.migrations[0]!.waits[0]!.ms).toBeGreaterThanOrEqual(3 * fast.lockTimeoutMs!);
      expect(rec.lines.join("\n")).toMatch(
        new RegExp(
          `idx_contact_activity_org_contact: waiting for open transactions .*: pid ${holderPid} idle in transaction, transaction open [^;]*; this wait blocks no writer`,
        ),
      );
      expect(builds(rec, "idx_contact_activity_org_contact")).toBe(1);
      expect(renderRun(r)).toMatch(
        new RegExp(
          `0001 .* applied .*waited \\S+ for open transactions that wrote to the table .*\\(pid ${holderPid}\\)`,
        ),
      );
    });
    expect(await invalidIndexes(url)).toEqual([]);
    expect(await ledgerVersions(url)).toEqual(ALL);
  });

  it("a long query on another table during the builds: each waits 'for old snapshots' uncut, is applied once, never rebuilt", async () => {
    const url = await fixtureDb(pg);
    await withClient(url, async (reader) => {
      const readerPid = await pidOf(reader);
      // The 40 s SELECT on another table, ended by the test once the runner has waited long enough.
      const query = reader.query("SELECT count(*) FROM crm.tags CROSS JOIN pg_sleep(120)").catch((e: Error) => e);
      await withClient(url, (c) =>
        until("the long query", async () =>
          (await c.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [readerPid])).rowCount
            ? true
            : undefined,
        ),
      );
      let cancelled: Promise<unknown> | undefined;
      const rec = recorder((line) => {
        if (stillWaitingMs(line, "old snapshots") >= 3 * fast.lockTimeoutMs!) {
          cancelled ??= withClient(url, (c) => c.query("SELECT pg_cancel_backend($1)", [readerPid]));
        }
      });
      // A statement timeout below the wait too: the build lifts it for itself.
      const r = await migrate({
        databaseUrl: url,
        ...fast,
        statementTimeoutMs: 700,
        waitReportMs: 100,
        reporter: rec.reporter,
      });
      await cancelled;
      expect(((await query) as Error).message).toMatch(/canceling statement due to user request/);
      expect(r.migrations.every((m) => m.status === "applied")).toBe(true);
      const first = r.migrations[0]!;
      expect(first).toMatchObject({ retries: 0, healed: [] });
      const snapshotWait = first.waits.find((w) => w.phase === "waiting for old snapshots");
      expect(snapshotWait?.pids).toEqual([readerPid]);
      expect(snapshotWait!.ms).toBeGreaterThanOrEqual(3 * fast.lockTimeoutMs!);
      expect(rec.lines.join("\n")).toMatch(
        new RegExp(
          `idx_contact_activity_org_contact: waiting for old snapshots: pid ${readerPid} active, transaction open \\S+, snapshot xmin \\d+; this wait blocks no writer`,
        ),
      );
      for (const m of r.migrations) expect(m.healed, m.file).toEqual([]);
      expect(builds(rec, "idx_contact_activity_org_contact")).toBe(1);
      console.log(
        `figure: 0001 waited ${snapshotWait!.ms} ms for old snapshots under lock_timeout ${fast.lockTimeoutMs} ms and statement_timeout 700 ms; built once, run ${r.migrations.reduce((t, m) => t + (m.durationMs ?? 0), 0)} ms`,
      );
    });
    expect(await invalidIndexes(url)).toEqual([]);
    expect(await ledgerVersions(url)).toEqual(ALL);
  });

  it("a writer that starts mid-build and stays open: the build waits for it before validation, uncut, and is applied once", async () => {
    const url = await pg.newDatabase({ template: "big" });
    const rec = recorder((line) => {
      if (stillWaitingMs(line, "writers before validation") >= 3 * fast.lockTimeoutMs!)
        writerDone ??= writer.query("COMMIT");
    });
    let writerDone: Promise<unknown> | undefined;
    const writer = new Client({ connectionString: url });
    await writer.connect();
    try {
      const writerPid = await pidOf(writer);
      const run = migrate({ databaseUrl: url, ...fast, waitReportMs: 100, reporter: rec.reporter });
      await withClient(url, (c) =>
        until("the GIN build's table scan", async () => {
          const { rows } = await c.query(
            `SELECT 1 FROM pg_stat_progress_create_index p JOIN pg_class i ON i.oid = p.index_relid
              WHERE i.relname = $1 AND p.phase LIKE 'building index%'`,
            [GIN],
          );
          return rows.length ? true : undefined;
        }),
      );
      await writer.query("BEGIN");
      await writer.query(
        "INSERT INTO crm.contacts (organization_id, email, custom_fields) VALUES (gen_random_uuid(), 'mid@example.com', '{}')",
      );
      const r = await run;
      await writerDone;
      expect(writerDone).toBeDefined();
      const gin = r.migrations.find((m) => m.name === "contacts_custom_fields_gin")!;
      expect(gin).toMatchObject({ status: "applied", retries: 0, healed: [] });
      const wait = gin.waits.find((w) => w.phase === "waiting for writers before validation");
      expect(wait?.pids).toEqual([writerPid]);
      expect(wait!.ms).toBeGreaterThanOrEqual(3 * fast.lockTimeoutMs!);
      expect(rec.lines.join("\n")).toMatch(
        new RegExp(`${GIN}: waiting for writers before validation: pid ${writerPid} idle in transaction`),
      );
      expect(builds(rec, GIN)).toBe(1);
    } finally {
      await writer.end();
    }
    expect(await invalidIndexes(url)).toEqual([]);
    expect(await ledgerVersions(url)).toEqual(ALL);
  });

  it("the build's deadline: before the build or inside it, the run fails naming what it waited for, and leaves nothing INVALID", async () => {
    // A write transaction that stays: the runner waits before the build creates anything.
    const url = await fixtureDb(pg);
    await holding(url, "write", async (holder) => {
      const holderPid = await pidOf(holder);
      const err = await migrate({ databaseUrl: url, ...fast, buildDeadlineMs: 1000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunFailed);
      expect((err as Error).message).toMatch(
        new RegExp(
          `0001_contact_activity_org_contact\\.sql:2: idx_contact_activity_org_contact: the build reached its deadline 1\\.0s while waiting for open transactions that wrote to the table \\(before the build starts\\): pid ${holderPid} idle in transaction.*; it was cancelled and nothing INVALID is left \\(allowed: end those sessions or raise --build-deadline, and rerun\\)`,
        ),
      );
      // Checked while the holder still holds its lock: nothing was left half-built.
      expect(await invalidIndexes(url)).toEqual([]);
      await holder.query("ROLLBACK");
    });
    expect(await ledgerVersions(url)).toEqual([]);

    // A snapshot that stays: the build is cancelled while waiting for it, and its INVALID index dropped.
    const url2 = await fixtureDb(pg);
    await holding(url2, "snapshot", async (holder) => {
      const holderPid = await pidOf(holder);
      const err = await migrate({ databaseUrl: url2, ...fast, buildDeadlineMs: 1500 }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        new RegExp(
          `deadline 1\\.5s while waiting for old snapshots: pid ${holderPid} idle in transaction.*it was cancelled and nothing INVALID is left`,
        ),
      );
      expect(await invalidIndexes(url2)).toEqual([]);
      await holder.query("COMMIT");
    });
  });

  it("writers keep writing during a run: no write waits longer than the lock timeout", async () => {
    const url = await pg.newDatabase({ template: "big" });
    const lockTimeoutMs = 1000;
    const writers = await Promise.all([0, 1, 2].map(() => new Client({ connectionString: url })));
    await Promise.all(writers.map((w) => w.connect()));
    // A writer's own lock_timeout equal to the runner's: any wait past it fails the insert, and so the test.
    await Promise.all(writers.map((w) => w.query(`SET lock_timeout = '${lockTimeoutMs}ms'`)));
    const inserts = [
      "INSERT INTO crm.contacts (organization_id, email, custom_fields) VALUES (gen_random_uuid(), 'w@example.com', '{\"city\": \"Oslo\"}')",
      "INSERT INTO analytics.contact_activity (organization_id, contact_id, event_type) VALUES (gen_random_uuid(), gen_random_uuid(), 'open')",
      "INSERT INTO delivery.delivery_events (job_id, organization_id, channel, event_type) VALUES (gen_random_uuid(), gen_random_uuid(), 'email', 'sent')",
    ];
    const done: number[] = [];
    const latencies: number[] = [];
    const errors: string[] = [];
    let running = true;
    const loops = writers.map(async (w, i) => {
      while (running) {
        const t = Date.now();
        try {
          await w.query(inserts[i]!);
          latencies.push(Date.now() - t);
          done.push(Date.now());
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    });
    const rec = recorder();
    try {
      const r = await migrate({ databaseUrl: url, lockTimeoutMs, progressIntervalMs: 100, reporter: rec.reporter });
      expect(r.migrations.every((m) => m.status === "applied")).toBe(true);
    } finally {
      running = false;
      await Promise.all(loops);
      await Promise.all(writers.map((w) => w.end()));
    }
    expect(errors).toEqual([]);
    const gin = rec.events.filter((e) => e.label.endsWith(GIN));
    const [start, end] = [gin.find((e) => e.what === "start")!.at, gin.find((e) => e.what === "end")!.at];
    const during = done.filter((t) => t >= start && t <= end).length;
    expect(during).toBeGreaterThan(0);
    // Progress as plain lines (no TTY): the phase and a percent from pg_stat_progress_create_index.
    expect(rec.lines.join("\n")).toMatch(new RegExp(`${GIN}: building index[a-z: ]* \\d+%`));
    latencies.sort((a, b) => a - b);
    console.log(
      `figure: ${done.length} inserts during the run, ${during} during the ${end - start} ms GIN build; ` +
        `write latency p50 ${latencies[Math.floor(latencies.length / 2)]} ms, max ${latencies[latencies.length - 1]} ms`,
    );
    expect(await invalidIndexes(url)).toEqual([]);
  });
});
