/**
 * The first deploy: the post-deploy step runs before the application has created its tables. Every migration
 * waits, named with its table, and the run exits 0; `--strict` exits 1. After the application's tables exist
 * (`fixture`), the next run applies them all and `--strict` exits 0.
 */
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { readMigrations } from "../migrations/runner/files";
import { renderDryRun } from "../migrations/runner/report";
import { dryRun, migrate } from "../migrations/runner/runner";
import { usePostgres } from "../migrations/embedded";
import { ROOT, runCli } from "./helpers/cli";
import { ledgerVersions, withClient } from "./helpers/db";

const pg = usePostgres({ beforeAll, afterAll });

/** Each committed migration's file and the table it builds an index on, as written. */
let TARGETS: { file: string; table: string }[] = [];
beforeAll(async () => {
  const files = await readMigrations(path.join(ROOT, "migrations"));
  // The table as messages show it: unquoted where quotes are not needed.
  TARGETS = files.map((m) => ({
    file: m.file,
    table: m.statements.find((s) => s.index)!.index!.table.replace(/"/g, ""),
  }));
});

interface RunJson {
  ok: boolean;
  migrations: { version: number; file: string; status: string; waitingFor?: string[] }[];
  waiting: { migrations: { file: string; waitingFor: string[] }[]; grantSchemas: string[] };
}

describe("a database without the application's schema", () => {
  it("waits (exit 0), --strict exits 1; after the app's tables exist the next run applies everything", async () => {
    const url = await pg.newDatabase();
    // The worker roles exist (the Neon component makes them before this step); their schemas do not.
    await withClient(url, async (c) => {
      for (const w of ["identity", "crm", "delivery", "analytics", "journey"]) {
        await c.query(`DO $$ BEGIN CREATE ROLE mauntic_dev_${w}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      }
    });

    const [first, strict, text] = await Promise.all([
      runCli(["migrate", "--json", "--stack", "dev"], { env: { DATABASE_URL: url } }),
      runCli(["migrate", "--strict", "--stack", "dev"], { env: { DATABASE_URL: url } }),
      runCli(["migrate", "--stack", "dev"], { env: { DATABASE_URL: url } }),
    ]);
    expect(first.code, first.stderr).toBe(0);
    const run = JSON.parse(first.stdout) as RunJson;
    expect(run.migrations.map((m) => [m.file, m.status, m.waitingFor])).toEqual(
      TARGETS.map((t) => [t.file, "waiting", [t.table]]),
    );
    expect(run.waiting.grantSchemas).toEqual(["identity", "crm", "delivery", "analytics", "journey"]);
    expect(await ledgerVersions(url)).toEqual([]);

    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(
      /^error: --strict: 0001_contact_activity_org_contact\.sql waits for analytics\.contact_activity; .* grants wait for schema identity, crm, delivery, analytics, journey \(allowed: /m,
    );

    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /0001\s+contact_activity_org_contact\s+waiting\s+waits for analytics\.contact_activity/,
    );
    expect(text.stdout).toMatch(/7 migrations wait for tables the application has not created yet/);
    expect(text.stdout).toMatch(/^grants: nothing to change in the schemas that exist$/m);
    expect(text.stdout).toMatch(/schema crm does not exist yet: its grants wait for a later run/);

    // The application creates its tables; the next deploy's run applies every migration and every grant.
    const fixture = await runCli(["fixture", "--database-url", url]);
    expect(fixture.code, fixture.stderr).toBe(0);
    const after = await runCli(["migrate", "--strict", "--json", "--stack", "dev"], { env: { DATABASE_URL: url } });
    expect(after.code, after.stderr).toBe(0);
    const applied = JSON.parse(after.stdout) as RunJson;
    expect(applied.migrations.map((m) => m.status)).toEqual(TARGETS.map(() => "applied"));
    expect(applied.waiting).toEqual({ migrations: [], grantSchemas: [] });
    expect(applied.ok).toBe(true);

    // And the run after that has nothing to do: three queries after connecting.
    const spy = vi.spyOn(Client.prototype, "query");
    try {
      const again = await migrate({ databaseUrl: url });
      expect(again.migrations.every((m) => m.status === "already applied")).toBe(true);
      expect(spy.mock.calls.length).toBeLessThanOrEqual(3);
    } finally {
      spy.mockRestore();
    }
  }, 120_000);

  it("only the migrations whose table is missing wait; the others apply in the same run", async () => {
    const url = await pg.newDatabase();
    await runCli(["fixture", "--database-url", url]);
    // The app has not created journey's executions table yet (a later release of the app adds it).
    await withClient(url, (c) => c.query("DROP TABLE journey.journey_executions"));
    // --dry-run says which would wait, and changes nothing.
    const dry = await dryRun({ databaseUrl: url });
    expect(dry.waiting.map((w) => w.waitingFor)).toEqual(dry.waiting.map(() => ["journey.journey_executions"]));
    expect(renderDryRun(dry)).toMatch(
      /0003_journey_executions_org_status\.sql would wait for journey\.journey_executions/,
    );
    const r = await migrate({ databaseUrl: url });
    const waiting = r.migrations.filter((m) => m.status === "waiting");
    expect(waiting.map((m) => m.waitingFor)).toEqual(waiting.map(() => ["journey.journey_executions"]));
    expect(waiting.map((m) => m.version)).toEqual(dry.waiting.map((w) => w.version));
    expect(r.migrations.filter((m) => m.status === "applied")).toHaveLength(TARGETS.length - waiting.length);
  }, 60_000);

  it("a transactional file that finds its relation missing waits too, rolled back", async () => {
    const url = await pg.newDatabase();
    const fs = await import("node:fs");
    const os = await import("node:os");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-waiting-"));
    try {
      fs.writeFileSync(
        path.join(dir, "0001_backfill.sql"),
        "CREATE TABLE public.seen (id int);\nINSERT INTO public.seen SELECT 1 FROM crm.contacts;\n",
      );
      const r = await migrate({ databaseUrl: url, dir });
      expect(r.migrations.map((m) => [m.status, m.waitingFor])).toEqual([["waiting", ["crm.contacts"]]]);
      const seen = await withClient(url, (c) => c.query("SELECT to_regclass('public.seen') AS t"));
      expect(seen.rows[0].t).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
