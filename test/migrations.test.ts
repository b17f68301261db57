/**
 * Index migrations and their runner on embedded PostgreSQL 17: the files, the fixture, applying and status, one
 * run at a time, the clear failures (drift, missing table, syntax error, pooler URL) and the worker grants.
 * Lock waits, a killed runner and writers during a build are in migrations-resilience.test.ts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MigrationError } from "../migrations/runner/errors";
import { loadParser, readMigrations, splitStatements } from "../migrations/runner/files";
import { grantsFromConfig } from "../migrations/runner/grants-spec";
import { dryRun, migrate, RUN_LOCK_KEY, RunFailed, status } from "../migrations/runner/runner";
import { loadStackConfigFromFile } from "../infra/config/load";
import { ROOT, runCli } from "./helpers/cli";
import { usePostgres } from "../migrations/embedded";
import { fixtureDb, invalidIndexes, ledgerVersions, withClient } from "./helpers/db";

const pg = usePostgres({ beforeAll, afterAll });
/** Every committed migration's version: other issues add files, and these tests must hold for any number. */
let ALL: number[] = [];
beforeAll(async () => {
  ALL = (await readMigrations(path.join(ROOT, "migrations"))).map((m) => m.version);
});
const MIGRATIONS = path.join(ROOT, "migrations");
const SQUAWK = path.join(ROOT, "node_modules", ".bin", "squawk");
const SQUAWK_CONFIG = path.join(MIGRATIONS, ".squawk.toml");

/** The platform notes' "Recommended Additional Indexes", by name and table. */
const NOTES_INDEXES = {
  idx_contact_activity_org_contact: '"analytics"."contact_activity"',
  idx_campaign_daily_stats_campaign: '"analytics"."campaign_daily_stats"',
  idx_journey_executions_org_status: '"journey"."journey_executions"',
  idx_delivery_events_org_channel_type_date: '"delivery"."delivery_events"',
  idx_contacts_custom_fields_gin: '"crm"."contacts"',
};

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tempDir(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-migrations-"));
  tempDirs.push(dir);
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

function copyMigrations(extra: Record<string, string> = {}): string {
  const dir = tempDir(extra);
  for (const f of fs.readdirSync(MIGRATIONS).filter((n) => n.endsWith(".sql"))) {
    fs.copyFileSync(path.join(MIGRATIONS, f), path.join(dir, f));
  }
  return dir;
}

/** The relation's name if it exists, else null. */
const relation = (url: string, name: string): Promise<string | null> =>
  withClient(url, async (c) => (await c.query("SELECT to_regclass($1)::text AS t", [name])).rows[0].t);

describe("migration files", () => {
  it("holds the notes' five recommended indexes, one CREATE INDEX CONCURRENTLY IF NOT EXISTS per file", async () => {
    const files = await readMigrations(MIGRATIONS);
    const built = files.flatMap((f) => f.statements.filter((s) => s.kind === "create-index-concurrently"));
    for (const f of files) {
      expect(f.file).toMatch(/^\d{4}_[a-z0-9_]+\.sql$/);
      expect(f.statements.filter((s) => s.kind === "create-index-concurrently")).toHaveLength(1);
      expect(f.concurrent).toBe(true);
    }
    const byName = Object.fromEntries(built.map((s) => [s.index!.name, s.index!.table]));
    expect(byName).toMatchObject(NOTES_INDEXES);
    expect(files.map((f) => f.version)).toEqual([...files.map((f) => f.version)].sort((a, b) => a - b));
  });

  it("every file passes squawk; each rule the config disables has a one-line reason", () => {
    const r = spawnSync(
      SQUAWK,
      ["--config", SQUAWK_CONFIG, ...fs.readdirSync(MIGRATIONS).filter((n) => n.endsWith(".sql"))],
      {
        cwd: MIGRATIONS,
        encoding: "utf8",
      },
    );
    expect(r.stderr + r.stdout).toContain("Found 0 issues");
    expect(r.status).toBe(0);

    const text = fs.readFileSync(SQUAWK_CONFIG, "utf8");
    const excluded = (parseToml(text) as { excluded_rules?: string[] }).excluded_rules ?? [];
    const lines = text.split("\n");
    for (const rule of excluded) {
      const at = lines.findIndex((l) => l.includes(`"${rule}"`));
      expect(lines[at - 1]?.trim(), `reason for ${rule}`).toMatch(/^# \S.{10,}/);
    }
  });

  it("squawk is live: it fails a blocking CREATE INDEX under the same config", () => {
    const dir = tempDir({ "0001_unsafe.sql": "CREATE INDEX unsafe_idx ON crm.contacts (email);\n" });
    const r = spawnSync(SQUAWK, ["--config", SQUAWK_CONFIG, "0001_unsafe.sql"], { cwd: dir, encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("require-concurrent-index-creation");
  });

  it("splits with PostgreSQL's parser: semicolons in strings, comments and DO bodies; first-token lines", async () => {
    await loadParser();
    const sql = [
      "-- a comment; with a semicolon — and non-ASCII",
      "SET maintenance_work_mem = '256MB';",
      "",
      "/* block; comment */ CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx",
      "  ON crm.contacts ((custom_fields->>'a;b'));",
    ].join("\n");
    const stmts = splitStatements(sql, "x.sql");
    expect(stmts.map((s) => [s.line, s.kind])).toEqual([
      [2, "session-setting"],
      [4, "create-index-concurrently"],
    ]);
    expect(stmts[1]!.sql).toBe(
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx\n  ON crm.contacts ((custom_fields->>'a;b'))",
    );
    expect(stmts[1]!.index).toEqual({ name: "a_idx", table: '"crm"."contacts"' });

    const body = splitStatements("DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;\n\nSELECT ';' AS semi;", "y.sql");
    expect(body.map((s) => [s.line, s.kind, s.sql])).toEqual([
      [1, "transactional", "DO $$ BEGIN PERFORM 1; PERFORM 2; END $$"],
      [3, "transactional", "SELECT ';' AS semi"],
    ]);
  });

  it("refuses files that break the contract, naming file and line", async () => {
    await loadParser();
    const cases: [string, RegExp, number][] = [
      ["SELECT 1;\n\nCREATE INDEX CONCURRENTLY ON crm.contacts (email);", /no index name/, 3],
      ["\nCREATE INDEX CONCURRENTLY x_idx ON crm.contacts (email);", /lacks IF NOT EXISTS/, 2],
      [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS x_idx ON crm.contacts (email);\nALTER TABLE crm.contacts ADD COLUMN y int;",
        /cannot share a file/,
        2,
      ],
      ["SELECT 1;\nCREAT INDEX x ON t (a);", /syntax error at or near "CREAT"/, 2],
    ];
    for (const [sql, message, line] of cases) {
      let err: unknown;
      try {
        splitStatements(sql, "migrations/0009_x.sql");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as MigrationError).message).toMatch(message);
      expect((err as MigrationError).message.startsWith(`migrations/0009_x.sql:${line}: `)).toBe(true);
    }
  });
});

describe("the runner on embedded PostgreSQL 17", () => {
  it("fresh database + fixture: applies every migration, --status lists them, a rerun makes at most three queries", async () => {
    const url = await pg.newDatabase();
    const fixture = await runCli(["fixture", "--database-url", url]);
    expect(fixture.stderr).toBe("");
    expect(fixture.stdout).toMatch(/fixture loaded into .*schemas identity, crm, delivery, analytics, journey/);

    const first = await runCli(["migrate", "--json"], { env: { DATABASE_URL: url } });
    expect(first.code, first.stderr).toBe(0);
    const run = JSON.parse(first.stdout) as { migrations: { version: number; status: string }[] };
    expect(run.migrations.map((m) => m.status)).toEqual(ALL.map(() => "applied"));
    expect(await ledgerVersions(url)).toEqual(ALL);

    const [st, refused] = await Promise.all([
      runCli(["migrate", "--database-url", url, "--status"]),
      runCli(["fixture", "--database-url", url]),
    ]);
    expect(st.code, st.stderr).toBe(0);
    for (const name of Object.keys(NOTES_INDEXES)) {
      expect(st.stdout).toMatch(new RegExp(`\\d{4}\\s+${name.replace(/^idx_/, "")}\\s+applied\\s+\\d{4}-`));
    }
    expect(st.stdout).toContain("INVALID indexes: none");
    // The fixture never lands on a database that already has the platform's schemas.
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already has the platform's schemas .*never a real environment/);

    const spy = vi.spyOn(Client.prototype, "query");
    try {
      const again = await migrate({ databaseUrl: url, grants: undefined });
      expect(again.migrations.every((m) => m.status === "already applied")).toBe(true);
      expect(spy.mock.calls.length).toBeLessThanOrEqual(3);
      console.log(`figure: no-op run made ${spy.mock.calls.length} queries after connecting`);
    } finally {
      spy.mockRestore();
    }
  });

  it("two runners started together apply each migration exactly once; a third gives up at its bound", async () => {
    const url = await fixtureDb(pg);
    // All runners start while the run lock is taken, so the two are both waiting when it frees: a real race.
    const [a, b, bounded] = await withClient(url, async (holder) => {
      await holder.query(`SELECT pg_advisory_lock(${RUN_LOCK_KEY})`);
      const runs = [
        runCli(["migrate", "--database-url", url, "--json"]),
        runCli(["migrate", "--database-url", url, "--json"]),
      ];
      const third = await runCli(["migrate", "--database-url", url, "--run-lock-wait", "1s"]);
      for (let waiting = 0; waiting < 2;) {
        await new Promise((r) => setTimeout(r, 100));
        const { rows } = await holder.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'mauntic-migrate'",
        );
        waiting = rows[0].n;
      }
      await holder.query(`SELECT pg_advisory_unlock(${RUN_LOCK_KEY})`);
      const [first, second] = await Promise.all(runs);
      return [first!, second!, third] as const;
    });
    expect(bounded.code).toBe(1);
    expect(bounded.stderr).toMatch(/waiting for another migration run to finish \(pid \d+/);
    expect(bounded.stderr).toMatch(
      /^error: another migration run still holds this database's run lock .* after 1\.0s/m,
    );

    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const parsed = [a, b].map(
      (r) => JSON.parse(r.stdout) as { waitedForRunMs: number; migrations: { version: number; status: string }[] },
    );
    const applied = parsed.flatMap((p) => p.migrations.filter((m) => m.status === "applied").map((m) => m.version));
    expect(applied.sort((x, y) => x - y)).toEqual(ALL);
    expect(parsed.every((p) => p.waitedForRunMs > 0)).toBe(true);
    expect(await ledgerVersions(url)).toEqual(ALL);
  });

  it("drift, syntax error and pooler URL: one clear line each and a non-zero exit; a missing table waits", async () => {
    // Drift: an applied file edited afterwards.
    const driftUrl = await fixtureDb(pg);
    const driftDir = copyMigrations();
    await migrate({ databaseUrl: driftUrl, dir: driftDir });
    const edited = path.join(driftDir, "0003_journey_executions_org_status.sql");
    fs.appendFileSync(edited, "-- tweak\n");

    // Missing table: 9001 names a table that does not exist; the others apply.
    const missingUrl = await fixtureDb(pg);
    const missingDir = copyMigrations({
      "9001_nope.sql":
        "-- an index on a table the app never created\n\nCREATE INDEX CONCURRENTLY IF NOT EXISTS nope_idx\n  ON crm.nope (organization_id);\n",
    });
    // Syntax error on line 3.
    const syntaxUrl = await fixtureDb(pg);
    const syntaxDir = copyMigrations({
      "9001_typo.sql": "-- typo\n\nCREATE INDEX CONCURENTLY IF NOT EXISTS x ON crm.contacts (email);\n",
    });

    const pooler =
      "postgres://owner:hunt2@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/mauntic?sslmode=require";
    const [drift, missing, syntax, pooled] = await Promise.all([
      runCli(["migrate", "--database-url", driftUrl, "--dir", driftDir]),
      runCli(["migrate", "--database-url", missingUrl, "--dir", missingDir]),
      runCli(["migrate", "--database-url", syntaxUrl, "--dir", syntaxDir]),
      runCli(["migrate", "--database-url", pooler]),
    ]);

    expect(drift.code).toBe(1);
    expect(drift.stderr).toMatch(/^error: .*0003_journey_executions_org_status\.sql: changed after it was applied/m);

    // A missing table is not a failure: the migration waits for it (migrations-waiting.test.ts), the rest apply.
    expect(missing.code, missing.stderr).toBe(0);
    expect(await ledgerVersions(missingUrl)).toEqual(ALL);
    expect(missing.stdout).toMatch(/9001\s+nope\s+waiting\s+waits for crm\.nope/);

    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/^error: .*9001_typo\.sql:3: syntax error at or near "IF"$/m);
    // Parsed before connecting: nothing ran.
    expect(await relation(syntaxUrl, "mauntic_migrations.ledger")).toBeNull();

    expect(pooled.code).toBe(2);
    expect(pooled.stderr).toMatch(
      /^error: host 'ep-cool-darkness-123456-pooler\..*' is Neon's transaction-mode pooler/m,
    );
    expect(pooled.stderr).not.toContain("hunt2"); // the password never reaches a message

    // The rerun applies the waiting file once its table exists.
    await withClient(missingUrl, (c) => c.query("CREATE TABLE crm.nope (organization_id uuid)"));
    const rerun = await migrate({ databaseUrl: missingUrl, dir: missingDir });
    expect(rerun.migrations.filter((m) => m.status === "applied").map((m) => m.version)).toEqual([9001]);
    expect(await ledgerVersions(missingUrl)).toEqual([...ALL, 9001]);
  });

  it("a failed transactional file is rolled back whole and not recorded", async () => {
    const url = await fixtureDb(pg);
    const dir = tempDir({
      "0001_two_steps.sql":
        "CREATE TABLE crm.scratch (id int);\nINSERT INTO crm.scratch VALUES (1);\nSELECT id,\n  nope FROM crm.scratch;\n",
    });
    const err = await migrate({ databaseUrl: url, dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailed);
    // The error's position inside the statement gives the line: `nope` is on line 4.
    expect((err as Error).message).toMatch(/0001_two_steps\.sql:4: column "nope" does not exist$/);
    expect(await relation(url, "crm.scratch")).toBeNull();
    expect(await ledgerVersions(url)).toEqual([]);
  });

  it("a file's SET ends with the file: the next one runs with the runner's own settings", async () => {
    const url = await fixtureDb(pg);
    const dir = tempDir({
      "0001_big_build.sql":
        "SET maintenance_work_mem = '7MB';\nSET lock_timeout = '1h';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS tags_name_idx ON crm.tags (name);\n",
      "0002_seen.sql":
        "CREATE TABLE crm.settings_seen AS SELECT current_setting('maintenance_work_mem') AS mwm, current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st;\n",
    });
    await migrate({ databaseUrl: url, dir, lockTimeoutMs: 1234 });
    const seen = await withClient(url, async (c) => (await c.query("SELECT * FROM crm.settings_seen")).rows[0]);
    expect(seen).toEqual({ mwm: "64MB", lt: "1234ms", st: "5min" });
  });

  it("worker grants: each role reads its own schemas, is denied another's, covers future tables, exactly and idempotently", async () => {
    const url = await fixtureDb(pg);
    const spec = grantsFromConfig("dev", loadStackConfigFromFile("dev"));
    await withClient(url, async (c) => {
      for (const role of Object.keys(spec.roles)) await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
      // A stray privilege the catalogue does not declare: the runner must take it away.
      await c.query("GRANT USAGE ON SCHEMA analytics TO mauntic_dev_crm");
      await c.query("GRANT SELECT ON analytics.contact_activity TO mauntic_dev_crm");
    });
    const first = await migrate({ databaseUrl: url, grants: spec });
    expect("changes" in first.grants && first.grants.changes.length).toBeGreaterThan(0);

    // A table created after the run (by the same owner) is covered by default privileges.
    await withClient(url, (c) => c.query("CREATE TABLE crm.notes (id int); CREATE TABLE analytics.later (id int)"));

    const asRole = (role: string) => url.replace("postgres:password@", `${role}:pw@`);
    await withClient(asRole("mauntic_dev_crm"), async (crm) => {
      await crm.query("SELECT count(*) FROM crm.contacts"); // reads + writes crm
      await crm.query("SELECT count(*) FROM identity.users"); // reads identity
      await crm.query("INSERT INTO crm.tags (organization_id, name) VALUES (gen_random_uuid(), 'vip')");
      await crm.query("INSERT INTO crm.notes VALUES (1)"); // a future table
      await expect(crm.query("SELECT count(*) FROM analytics.contact_activity")).rejects.toMatchObject({
        code: "42501",
      });
      await expect(crm.query("SELECT count(*) FROM delivery.suppressions")).rejects.toMatchObject({ code: "42501" });
      await expect(
        crm.query("INSERT INTO identity.organizations (name, slug) VALUES ('a', 'a')"),
      ).rejects.toMatchObject({
        code: "42501",
      });
    });
    await withClient(asRole("mauntic_dev_analytics"), async (an) => {
      await an.query("SELECT count(*) FROM analytics.later");
      await an.query("SELECT count(*) FROM crm.contacts");
      await expect(an.query("DELETE FROM crm.contacts")).rejects.toMatchObject({ code: "42501" });
      await expect(an.query("SELECT count(*) FROM identity.session")).rejects.toMatchObject({ code: "42501" });
    });

    // Idempotent: nothing to change, nothing rewritten, and the whole no-op run (grants included) is three queries.
    const spy = vi.spyOn(Client.prototype, "query");
    const again = await migrate({ databaseUrl: url, grants: spec });
    const queries = spy.mock.calls.length;
    spy.mockRestore();
    expect("changes" in again.grants && again.grants.changes).toEqual([]);
    expect(queries).toBeLessThanOrEqual(3);
    console.log(`figure: no-op run with grants made ${queries} queries after connecting`);

    // Exactly what the catalogue says: dropping a schema from a worker's reads revokes it.
    const narrowed = structuredClone(spec);
    narrowed.roles.mauntic_dev_crm!.reads = ["crm"];
    const third = await migrate({ databaseUrl: url, grants: narrowed });
    expect("changes" in third.grants && third.grants.changes.map((c) => `${c.role} ${c.schema} ${c.target}`)).toEqual([
      "mauntic_dev_crm identity schema",
      "mauntic_dev_crm identity tables",
      "mauntic_dev_crm identity future tables",
    ]);
    await withClient(asRole("mauntic_dev_crm"), async (crm) => {
      await expect(crm.query("SELECT count(*) FROM identity.users")).rejects.toMatchObject({ code: "42501" });
    });
  });

  it("grants refuse to run with a worker role missing, naming it", async () => {
    const url = await fixtureDb(pg);
    // Roles are cluster-wide: a name no other test creates.
    const spec = { schemas: ["crm"], roles: { mauntic_dev_ghost: { reads: ["crm"], writes: [] } } };
    const err = await migrate({ databaseUrl: url, grants: spec }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailed);
    expect((err as Error).message).toMatch(/^role mauntic_dev_ghost missing: grants need every worker's role/);
    // The migrations themselves went through before the grants step.
    expect(await ledgerVersions(url)).toEqual(ALL);
  });

  it("--status and --dry-run change nothing", async () => {
    const url = await fixtureDb(pg);
    const dir = copyMigrations();
    const before = await status({ databaseUrl: url, dir });
    expect(before.migrations.map((m) => m.status)).toEqual(ALL.map(() => "pending"));
    const dry = await dryRun({ databaseUrl: url, dir });
    expect(dry.pending.map((p) => p.version)).toEqual(ALL);
    expect(await relation(url, "mauntic_migrations.ledger")).toBeNull();
    expect(await invalidIndexes(url)).toEqual([]);
  });
});
