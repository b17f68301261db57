/**
 * Blocking DDL is refused from the parsed statement, before anything runs, unless the file says why it is safe;
 * the CLI refuses a plain CREATE INDEX on an existing table with the ledger untouched (embedded PostgreSQL 17).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../migrations/embedded";
import { MigrationError } from "../migrations/runner/errors";
import { loadParser, splitStatements } from "../migrations/runner/files";
import { silentReporter } from "../migrations/runner/progress";
import { migrate } from "../migrations/runner/runner";
import { runCli } from "./helpers/cli";
import { fixtureDb, withClient } from "./helpers/db";

const pg = usePostgres({ beforeAll, afterAll });
beforeAll(() => loadParser());

function refusal(sql: string): MigrationError | undefined {
  try {
    splitStatements(sql, "migrations/0042_x.sql");
    return undefined;
  } catch (e) {
    if (e instanceof MigrationError) return e;
    throw e;
  }
}

describe("blocking DDL", () => {
  it("refuses each statement that holds writers for a scan or a rewrite, naming file, line and why", () => {
    const cases: [string, RegExp][] = [
      [
        "CREATE INDEX contacts_email_idx ON crm.contacts (email)",
        /CREATE INDEX without CONCURRENTLY on crm\.contacts locks out writes/,
      ],
      ["CREATE UNIQUE INDEX u ON crm.contacts (email)", /CREATE UNIQUE INDEX without CONCURRENTLY/],
      ["REINDEX TABLE crm.contacts", /REINDEX without CONCURRENTLY/],
      ["REINDEX INDEX crm.contacts_pkey", /REINDEX without CONCURRENTLY/],
      ["VACUUM FULL crm.contacts", /VACUUM FULL holds ACCESS EXCLUSIVE/],
      ["VACUUM (FULL, ANALYZE) crm.contacts", /VACUUM FULL/],
      ["CLUSTER crm.contacts USING contacts_pkey", /CLUSTER holds ACCESS EXCLUSIVE/],
      ["REFRESH MATERIALIZED VIEW analytics.daily", /REFRESH MATERIALIZED VIEW analytics\.daily without CONCURRENTLY/],
      ["ALTER TABLE crm.contacts ALTER COLUMN score TYPE bigint", /ALTER TABLE crm\.contacts SET DATA TYPE/],
      [
        "ALTER TABLE crm.contacts ADD COLUMN seen timestamptz DEFAULT clock_timestamp()",
        /DEFAULT clock_timestamp\(\), not known to be non-volatile/,
      ],
      ["ALTER TABLE crm.contacts ADD COLUMN ref uuid DEFAULT gen_random_uuid()", /DEFAULT gen_random_uuid\(\)/],
      ["ALTER TABLE crm.contacts ADD COLUMN n serial", /ADD COLUMN n serial/],
      ["ALTER TABLE crm.contacts ADD COLUMN d int GENERATED ALWAYS AS (score * 2) STORED", /STORED \(a rewrite\)/],
      ["ALTER TABLE crm.contacts ADD COLUMN i int GENERATED ALWAYS AS IDENTITY", /IDENTITY \(a rewrite\)/],
      ["ALTER TABLE crm.contacts ADD CONSTRAINT s CHECK (score >= 0)", /ADD CONSTRAINT s CHECK without NOT VALID/],
      [
        "ALTER TABLE crm.contacts ADD CONSTRAINT o FOREIGN KEY (organization_id) REFERENCES identity.organizations (id)",
        /FOREIGN KEY without NOT VALID/,
      ],
      ["ALTER TABLE crm.contacts ADD UNIQUE (email)", /UNIQUE without USING INDEX/],
      ["ALTER TABLE crm.contacts ALTER COLUMN email SET NOT NULL", /SET NOT NULL \(a scan/],
      ["ALTER TABLE crm.contacts SET TABLESPACE fast", /SET TABLESPACE/],
      ["ALTER TABLE crm.contacts SET UNLOGGED", /SET UNLOGGED/],
    ];
    for (const [stmt, why] of cases) {
      const e = refusal(`-- a comment\nSELECT 1;\n${stmt};\n`);
      expect(e?.message, stmt).toMatch(why);
      expect(e!.message.startsWith("migrations/0042_x.sql:3: "), e!.message).toBe(true);
      expect(e!.message).toContain('"-- mauntic:allow-blocking <why it is safe here>"');
    }
  });

  it("lets through what does not block writers for long", () => {
    const fine = [
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS e_idx ON crm.contacts (email)",
      "REINDEX (CONCURRENTLY) INDEX crm.contacts_pkey",
      "VACUUM (ANALYZE) crm.contacts",
      "REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.daily",
      "ALTER TABLE crm.contacts ADD COLUMN note text",
      "ALTER TABLE crm.contacts ADD COLUMN tier int NOT NULL DEFAULT 1",
      "ALTER TABLE crm.contacts ADD COLUMN at timestamptz DEFAULT now()",
      "ALTER TABLE crm.contacts ADD CONSTRAINT s CHECK (score >= 0) NOT VALID",
      "ALTER TABLE crm.contacts VALIDATE CONSTRAINT s",
      "ALTER TABLE crm.contacts ADD CONSTRAINT u UNIQUE USING INDEX e_idx",
      "ALTER TABLE crm.contacts DROP COLUMN note",
      // A table made in the same file: nobody else sees it before the file commits.
      "CREATE TABLE crm.scratch (id int); CREATE INDEX scratch_idx ON crm.scratch (id); ALTER TABLE crm.scratch ALTER COLUMN id TYPE bigint",
      "CREATE TABLE scratch2 AS SELECT 1 AS id; CREATE UNIQUE INDEX s2 ON scratch2 (id)",
    ];
    for (const sql of fine) expect(refusal(`${sql};`), sql).toBeUndefined();
  });

  it("applies a marked statement, keeping the reason; a marker without a reason or on another statement does not count", () => {
    const ok = splitStatements(
      "SELECT 1;\n-- mauntic:allow-blocking crm.tags holds 40 rows and nothing writes to it yet\nALTER TABLE crm.tags ALTER COLUMN name TYPE varchar(200);\n",
      "m.sql",
    );
    expect(ok[1]!.blocking).toEqual({
      what: expect.stringMatching(/SET DATA TYPE/),
      reason: "crm.tags holds 40 rows and nothing writes to it yet",
    });
    expect(refusal("-- mauntic:allow-blocking\nALTER TABLE crm.tags ALTER COLUMN name TYPE text;")?.message).toMatch(
      /the marker is there but gives no reason/,
    );
    // The marker covers only the statement right after it.
    expect(
      refusal(
        "-- mauntic:allow-blocking small table\nALTER TABLE crm.tags ALTER COLUMN name TYPE text;\nCREATE INDEX t ON crm.tags (name);",
      )?.message,
    ).toMatch(/^migrations\/0042_x\.sql:3: CREATE INDEX without CONCURRENTLY/);
  });

  it("the CLI refuses a plain CREATE INDEX on an existing table before anything runs", async () => {
    const url = await fixtureDb(pg);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-blocking-"));
    try {
      fs.writeFileSync(
        path.join(dir, "0001_fine.sql"),
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS tags_name_idx ON crm.tags (name);\n",
      );
      fs.writeFileSync(
        path.join(dir, "0002_plain.sql"),
        "-- the platform's email lookup\nCREATE INDEX contacts_email_idx ON crm.contacts (email);\n",
      );
      const r = await runCli(["migrate", "--database-url", url, "--dir", dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^error: .*0002_plain\.sql:2: CREATE INDEX without CONCURRENTLY on crm\.contacts locks out writes for the whole build .*refused before anything runs/m,
      );
      // Nothing ran: not even the file before it, and no ledger.
      const seen = await withClient(
        url,
        async (c) =>
          (
            await c.query(
              "SELECT to_regclass('mauntic_migrations.ledger')::text AS l, to_regclass('crm.tags_name_idx')::text AS i",
            )
          ).rows[0],
      );
      expect(seen).toEqual({ l: null, i: null });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a marked statement is applied, and the run and the dry run say why it was allowed", async () => {
    const url = await fixtureDb(pg);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-blocking-"));
    try {
      fs.writeFileSync(
        path.join(dir, "0001_tags_name_length.sql"),
        "-- mauntic:allow-blocking crm.tags is small and nothing writes to it yet\nALTER TABLE crm.tags ALTER COLUMN name TYPE varchar(200);\n",
      );
      const dry = await runCli(["migrate", "--database-url", url, "--dir", dir, "--dry-run"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(
        "blocks writers (ALTER TABLE crm.tags SET DATA TYPE (a rewrite unless the types are binary coercible): writers queue behind its lock until it ends); allowed by the file: crm.tags is small and nothing writes to it yet",
      );
      const notes: string[] = [];
      const r = await migrate({ databaseUrl: url, dir, reporter: { ...silentReporter, note: (l) => notes.push(l) } });
      expect(r.migrations[0]!.status).toBe("applied");
      expect(notes).toContain(
        "0001_tags_name_length.sql:2: ALTER TABLE crm.tags SET DATA TYPE (a rewrite unless the types are binary coercible): writers queue behind its lock until it ends; allowed by the file: crm.tags is small and nothing writes to it yet",
      );
      const type = await withClient(
        url,
        async (c) =>
          (
            await c.query(
              "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'crm.tags'::regclass AND attname = 'name'",
            )
          ).rows[0].t,
      );
      expect(type).toBe("character varying(200)");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
