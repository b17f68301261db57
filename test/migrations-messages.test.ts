/**
 * The runner's messages when something is off, on embedded PostgreSQL 17: a server that never answers, the
 * statement timeout, Ctrl-C, a read-only database, a UNIQUE build over duplicates, an index of the same name built
 * otherwise, a migration numbered below applied ones, a run that fails early, and a CRLF checkout.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../migrations/embedded";
import { readOnlyHint } from "../migrations/runner/hints";
import { migrate, RUN_LOCK_KEY, RunFailed } from "../migrations/runner/runner";
import { ROOT, runCli } from "./helpers/cli";
import { fixtureDb, invalidIndexes, ledgerVersions, withClient } from "./helpers/db";
import { until } from "./helpers/until";

const pg = usePostgres({ beforeAll, afterAll });
const MIGRATIONS = path.join(ROOT, "migrations");
const MAIN = path.join(ROOT, "infra", "cli", "main.ts");
let ALL: string[] = [];
beforeAll(() => {
  ALL = fs.readdirSync(MIGRATIONS).filter((n) => /^\d{4}_.*\.sql$/.test(n));
});

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A folder with the committed migrations (or none) plus `extra` files. */
function migrationsDir(extra: Record<string, string> = {}, committed = true): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-messages-"));
  tempDirs.push(dir);
  if (committed) for (const f of ALL) fs.copyFileSync(path.join(MIGRATIONS, f), path.join(dir, f));
  for (const [name, sql] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

const runnerSessions = (c: Client) =>
  c
    .query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'mauntic-migrate%'",
    )
    .then((r) => r.rows[0]!.n);

describe("connections are bounded", () => {
  it("a server that accepts TCP and never answers: migrate exits 1 within its connect timeout, naming the host", async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => void sockets.push(s)); // accepts, reads, never writes
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const url = `postgres://owner:secret@127.0.0.1:${port}/mauntic`;
    try {
      const started = Date.now();
      const err = await migrate({ databaseUrl: url, connectTimeoutMs: 500 }).catch((e: unknown) => e);
      const took = Date.now() - started;
      expect((err as Error).message).toBe(
        `cannot connect to 127.0.0.1:${port}/mauntic: no answer within the connect timeout 500ms (check: the host and port, that the endpoint is running (a suspended Neon compute wakes in a few seconds), that no firewall or VPN drops the traffic; raise --connect-timeout on a slow network)`,
      );
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(3000);

      const cli = await runCli(["migrate", "--database-url", url, "--connect-timeout", "1s"]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(
        new RegExp(
          `^error: cannot connect to 127\\.0\\.0\\.1:${port}/mauntic: no answer within the connect timeout 1\\.0s`,
          "m",
        ),
      );
      expect(cli.stderr).not.toContain("secret");
      const status = await runCli(["migrate", "--database-url", url, "--status", "--connect-timeout", "1s"]);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain(`cannot connect to 127.0.0.1:${port}/mauntic`);
      expect(sockets.length).toBeGreaterThanOrEqual(3); // it did reach the server each time
    } finally {
      sockets.forEach((s) => s.destroy());
      server.close();
    }
  });

  it("every statement but the builds has the statement timeout: a slow one fails naming the host and the option", async () => {
    const url = await fixtureDb(pg);
    const dir = migrationsDir({ "0001_slow.sql": "-- a backfill slower than allowed\nSELECT pg_sleep(5);\n" }, false);
    const err = await migrate({ databaseUrl: url, dir, statementTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailed);
    const host = new URL(url);
    expect((err as Error).message).toBe(
      `${path.relative(process.cwd(), path.join(dir, "0001_slow.sql"))}:2: canceling statement due to statement timeout: the runner's statement timeout (300ms) ran out on ${host.hostname}:${host.port}${host.pathname} (check: what else runs there now; raise --statement-timeout, or SET statement_timeout in the file for a statement known to be long)`,
    );
  });
});

describe("a connection lost mid-run", () => {
  it("names the host, says what to check and that a rerun continues", async () => {
    const url = await fixtureDb(pg);
    const dir = migrationsDir({ "0001_slow.sql": "SELECT pg_sleep(60);\n" }, false);
    const run = migrate({ databaseUrl: url, dir }).catch((e: unknown) => e);
    await withClient(url, async (c) => {
      const pid = await until("the slow statement", async () => {
        const { rows } = await c.query(
          "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
        );
        return rows[0]?.pid as number | undefined;
      });
      await c.query("SELECT pg_terminate_backend($1)", [pid]); // what a restart or failover of the endpoint does
    });
    const err = await run;
    const host = new URL(url);
    expect(err).toBeInstanceOf(RunFailed);
    expect((err as Error).message).toMatch(
      new RegExp(
        `0001_slow\\.sql:1: terminating connection due to administrator command: the connection to ${host.hostname}:${host.port}${host.pathname} was lost \\(check: the network, and whether the endpoint was suspended or restarted\\); a rerun continues where this one stopped$`,
      ),
    );
  });
});

describe("Ctrl-C", () => {
  /**
   * Starts `migrate` in its own process group and sends SIGINT to the group once `ready`, as a terminal's Ctrl-C
   * does. Run as `node --import tsx`, one process: the `tsx` launcher relays a Ctrl-C to its child and SIGKILLs it
   * unless the child acknowledges within 30 ms (relaySignals in tsx's dist/cli.mjs), a timing this test should not
   * depend on.
   */
  async function interruptWhen(args: string[], ready: (stderr: string) => Promise<boolean | undefined>) {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "migrate", ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    await until("the run to reach the point to interrupt", () => ready(stderr));
    process.kill(-child.pid!, "SIGINT"); // what a terminal's Ctrl-C does: the whole foreground group
    return { code: await exited, stdout: () => stdout, stderr: () => stderr };
  }

  it("during a build: says what it stopped and that a rerun heals, exits 130; the rerun does heal", async () => {
    const url = await fixtureDb(pg);
    await withClient(url, async (holder) => {
      // An old snapshot keeps the first build in 'waiting for old snapshots'.
      await holder.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await holder.query("SELECT 1");
      // Interrupted once the runner itself has seen the wait (its note), so that it can name the phase.
      const r = await interruptWhen(["--database-url", url], async (stderr) =>
        stderr.includes("idx_contact_activity_org_contact: waiting for old snapshots:") ? true : undefined,
      );
      expect(r.code).toBe(130);
      expect(r.stderr()).toMatch(
        /^interrupted while building idx_contact_activity_org_contact of 0001_contact_activity_org_contact\.sql \(phase 'waiting for old snapshots'\): the server stops the build within 500ms and leaves an INVALID index, which a rerun drops and rebuilds$/m,
      );
      expect(r.stdout()).toMatch(/0 applied this run, 0 already applied/);
      await withClient(url, (c) =>
        until("the runner's sessions to end", async () => ((await runnerSessions(c)) === 0 ? true : undefined)),
      );
      expect(await invalidIndexes(url)).toEqual(["analytics.idx_contact_activity_org_contact"]);
      await holder.query("COMMIT");
    });
    const rerun = await runCli(["migrate", "--database-url", url]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(
      /0001\s+contact_activity_org_contact\s+applied\s+\S+\s+rebuilt INVALID analytics\.idx_contact_activity_org_contact/,
    );
    expect(await invalidIndexes(url)).toEqual([]);
  });

  it("during a transactional file: says it is rolled back, exits 130, and nothing of it stays", async () => {
    const url = await fixtureDb(pg);
    const dir = migrationsDir({ "9001_slow.sql": "CREATE TABLE crm.half (id int);\nSELECT pg_sleep(60);\n" });
    const r = await interruptWhen(["--database-url", url, "--dir", dir], () =>
      withClient(url, async (c) => {
        const { rows } = await c.query(
          "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'",
        );
        return rows.length ? true : undefined;
      }),
    );
    expect(r.code).toBe(130);
    expect(r.stderr()).toMatch(
      /^interrupted while applying 9001_slow\.sql: its transaction is rolled back as the session ends, so nothing of it stays; a rerun applies it again$/m,
    );
    expect(r.stdout()).toMatch(new RegExp(`${ALL.length} applied this run, 0 already applied`));
    await withClient(url, (c) =>
      until("the runner's sessions to end", async () => ((await runnerSessions(c)) === 0 ? true : undefined)),
    );
    expect(
      await withClient(url, async (c) => (await c.query("SELECT to_regclass('crm.half')::text AS t")).rows[0].t),
    ).toBeNull();
    expect(await ledgerVersions(url)).toHaveLength(ALL.length);
  });
});

describe("clear lines for what the run cannot get right", () => {
  it("a read-only database: exit 1 with why (default_transaction_read_only, or a hot standby)", async () => {
    const url = await fixtureDb(pg);
    const db = new URL(url).pathname.slice(1);
    await withClient(url, (c) => c.query(`ALTER DATABASE "${db}" SET default_transaction_read_only = on`));
    const r = await runCli(["migrate", "--database-url", url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: cannot execute CREATE SCHEMA in a read-only transaction: default_transaction_read_only is on for this database or role on 127\.0\.0\.1:\d+\/\S+ \(check: SHOW default_transaction_read_only; ALTER DATABASE \.\.\. or ALTER ROLE \.\.\. SET default_transaction_read_only = off/m,
    );
    // A hot standby answers pg_is_in_recovery() = true: the hint names the replica instead.
    const standby = { query: async () => ({ rows: [{ standby: true, dtro: "off" }] }) } as unknown as Client;
    expect(await readOnlyHint(standby, "ep-x.neon.tech/mauntic")).toMatch(
      /^ep-x\.neon\.tech\/mauntic is a hot standby \(pg_is_in_recovery\(\) is true\), a read replica: migrations need the primary/,
    );
  });

  it("a UNIQUE build over duplicates: names duplicates as the cause and the key, leaves nothing INVALID", async () => {
    const url = await fixtureDb(pg);
    await withClient(url, (c) =>
      c.query(
        `INSERT INTO crm.contacts (organization_id, email) SELECT gen_random_uuid(), e FROM (VALUES ('a@example.com'), ('dup@example.com'), ('dup@example.com')) v(e)`,
      ),
    );
    const dir = migrationsDir(
      {
        "0001_contacts_email_unique.sql":
          "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS contacts_email_uq\n  ON crm.contacts (email);\n",
      },
      false,
    );
    const r = await runCli(["migrate", "--database-url", url, "--dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /0001_contacts_email_unique\.sql:1: could not create unique index "contacts_email_uq": the table holds duplicate keys, the cause of the failure: Key \(email\)=\(dup@example\.com\) is duplicated\. \(allowed: remove or merge the duplicates, found with SELECT email, count\(\*\) \.\.\. GROUP BY email HAVING count\(\*\) > 1, then rerun\)$/m,
    );
    expect(await invalidIndexes(url)).toEqual([]);
  });

  it("an index of the same name built otherwise is refused (exit 1); one built the same way is recorded", async () => {
    const url = await fixtureDb(pg);
    await withClient(url, async (c) => {
      await c.query("CREATE INDEX idx_contact_activity_org_contact ON analytics.contact_activity (created_at)");
      // The same as 0007, written differently: PostgreSQL's own deparse makes them one text.
      await c.query(
        "create index idx_journey_executions_active_started on journey.journey_executions using btree (started_at) where (status = 'active'::text)",
      );
    });
    const r = await runCli(["migrate", "--database-url", url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: .*0001_contact_activity_org_contact\.sql:2: an index named idx_contact_activity_org_contact already exists with another definition: CREATE INDEX idx_contact_activity_org_contact ON analytics\.contact_activity USING btree \(created_at\); this file builds: CREATE INDEX idx_contact_activity_org_contact ON analytics\.contact_activity USING btree \(organization_id, contact_id, created_at DESC\) \(allowed: drop or rename the existing index, or give this one another name\)$/m,
    );
    expect(await ledgerVersions(url)).toEqual([]);
    expect(r.stdout).toMatch(/0001\s+contact_activity_org_contact\s+failed/);

    await withClient(url, (c) => c.query("DROP INDEX analytics.idx_contact_activity_org_contact"));
    const again = await migrate({ databaseUrl: url });
    expect(again.migrations.find((m) => m.version === 7)).toMatchObject({
      status: "applied",
      existing: ["journey.idx_journey_executions_active_started"],
    });
    expect(await invalidIndexes(url)).toEqual([]);
  });

  it("a migration numbered below applied ones is applied and said to be out of order", async () => {
    const url = await fixtureDb(pg);
    const one = "CREATE INDEX CONCURRENTLY IF NOT EXISTS tags_name_idx ON crm.tags (name);\n";
    const three = "CREATE INDEX CONCURRENTLY IF NOT EXISTS tags_org_idx ON crm.tags (organization_id);\n";
    const dir = migrationsDir({ "0001_tags_name.sql": one, "0003_tags_org.sql": three }, false);
    await migrate({ databaseUrl: url, dir });
    fs.writeFileSync(
      path.join(dir, "0002_tags_created.sql"),
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS tags_created_idx ON crm.tags (created_at);\n",
    );
    const r = await runCli(["migrate", "--database-url", url, "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "0002_tags_created.sql: numbered below 0003, which was already applied: applied out of order (rename it above 0003 if it must come after)",
    );
    expect(r.stdout).toMatch(/0002\s+tags_created\s+applied\s+\S+\s+out of order: numbered below applied 0003/);
    expect(await ledgerVersions(url)).toEqual([1, 2, 3]);
  });

  it("a run that fails early still counts what is applied", async () => {
    const url = await fixtureDb(pg);
    await migrate({ databaseUrl: url });
    // Fails before the ledger is read: another run holds the lock.
    const locked = await withClient(url, async (holder) => {
      await holder.query(`SELECT pg_advisory_lock(${RUN_LOCK_KEY})`);
      return runCli(["migrate", "--database-url", url, "--run-lock-wait", "300ms"]);
    });
    expect(locked.code).toBe(1);
    expect(locked.stdout).toContain(`: 0 applied this run, ${ALL.length} already applied`);
    // Fails right after the ledger is read: an applied file was edited.
    const dir = migrationsDir();
    fs.appendFileSync(path.join(dir, ALL[2]!), "-- edited\n");
    const drift = await runCli(["migrate", "--database-url", url, "--dir", dir]);
    expect(drift.code).toBe(1);
    expect(drift.stderr).toMatch(/changed after it was applied/);
    expect(drift.stdout).toContain(`: 0 applied this run, ${ALL.length} already applied`);
  });

  it("line endings: .gitattributes pins LF for migrations; a CRLF checkout is named as such, not as an edit", async () => {
    const attr = spawnSync("git", ["check-attr", "eol", "--", `migrations/${ALL[0]}`], { cwd: ROOT, encoding: "utf8" });
    expect(attr.stdout.trim()).toBe(`migrations/${ALL[0]}: eol: lf`);

    const url = await fixtureDb(pg);
    const dir = migrationsDir();
    await migrate({ databaseUrl: url, dir });
    const file = path.join(dir, ALL[0]!);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/\n/g, "\r\n"));
    const r = await runCli(["migrate", "--database-url", url, "--dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `${ALL[0]}: differs from what was applied \\(\\S+\\) only in its line endings: this checkout has CRLF where the file has LF`,
      ),
    );
  });
});
