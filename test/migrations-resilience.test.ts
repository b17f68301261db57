/**
 * The runner under trouble, on embedded PostgreSQL 17: killed with SIGKILL mid-build, lock waits that end in time
 * or outlast the bound, a build that times out after it began (INVALID, healed), and writers during a run.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFixture } from "../migrations/fixture/load";
import { readMigrations } from "../migrations/runner/files";
import { lineReporter, type Reporter } from "../migrations/runner/progress";
import { dryRun, migrate, RunFailed, status, type RunOptions } from "../migrations/runner/runner";
import { ROOT, runCli } from "./helpers/cli";
import { usePostgres } from "../migrations/embedded";
import { fixtureDb, invalidIndexes, ledgerVersions, withClient } from "./helpers/db";

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

async function until<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

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

/** Transactions left open by a second session while the runner works. */
const OPEN = {
  // An open write transaction on 0001's table: CREATE INDEX CONCURRENTLY would have to wait for it.
  write: [
    "BEGIN",
    "INSERT INTO analytics.contact_activity (organization_id, contact_id, event_type) VALUES (gen_random_uuid(), gen_random_uuid(), 'open')",
  ],
  // A long transaction's snapshot: the build passes its lock checks, then times out waiting for old snapshots.
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

  it("a transaction holding a conflicting lock: the runner retries and succeeds once it is released", async () => {
    const url = await fixtureDb(pg);
    await holding(url, "write", async (holder) => {
      let released: Promise<unknown> | undefined;
      const rec = recorder((line) => {
        if (/retry 1\//.test(line)) released ??= holder.query("COMMIT");
      });
      const r = await migrate({ databaseUrl: url, ...fast, reporter: rec.reporter });
      await released;
      expect(r.migrations.every((m) => m.status === "applied")).toBe(true);
      expect(r.migrations[0]!.retries).toBeGreaterThanOrEqual(1);
      expect(rec.lines.join("\n")).toMatch(/held a conflicting lock on "analytics"."contact_activity" .*retry 1\/3/);
    });
    expect(await invalidIndexes(url)).toEqual([]);
    expect(await ledgerVersions(url)).toEqual(ALL);
  });

  it("the lock held past the bound: the run fails cleanly, names the holder, and leaves nothing INVALID", async () => {
    const url = await fixtureDb(pg);
    await holding(url, "write", async (holder) => {
      const holderPid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      const err = await migrate({ databaseUrl: url, ...fast }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunFailed);
      expect((err as Error).message).toMatch(
        new RegExp(
          `0001_contact_activity_org_contact\\.sql:2: idx_contact_activity_org_contact: gave up after 4 lock waits of 300ms: pid ${holderPid} RowExclusiveLock`,
        ),
      );
      // Checked while the holder still holds its lock: nothing was left half-built.
      expect(await invalidIndexes(url)).toEqual([]);
      await holder.query("ROLLBACK");
    });
    expect(await ledgerVersions(url)).toEqual([]);
  });

  it("a build that times out after it began (an old snapshot) leaves INVALID: the retry heals it; past the bound it is dropped", async () => {
    const url = await fixtureDb(pg);
    await holding(url, "snapshot", async (holder) => {
      let released: Promise<unknown> | undefined;
      const rec = recorder((line) => {
        if (/retry 2\//.test(line)) released ??= holder.query("COMMIT");
      });
      const r = await migrate({ databaseUrl: url, ...fast, reporter: rec.reporter });
      await released;
      expect(r.migrations[0]!.healed).toEqual(["analytics.idx_contact_activity_org_contact"]);
      expect(rec.lines.join("\n")).toContain(
        "INVALID index analytics.idx_contact_activity_org_contact left by an earlier run",
      );
    });
    expect(await invalidIndexes(url)).toEqual([]);

    const url2 = await fixtureDb(pg);
    await holding(url2, "snapshot", async (holder) => {
      const err = await migrate({ databaseUrl: url2, ...fast, lockRetries: 1 }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        /gave up after 2 lock waits of 300ms: canceling statement due to lock timeout/,
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
