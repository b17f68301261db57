/**
 * The failure paths a user meets through the command they run, each checked for its exit code (0 ok, 1 failure,
 * 2 bad input) and the stable part of its message (the flag or value named): migrate's options and their parse
 * errors, URL refusals in every command that takes --database-url, fixture and seed-data pointed at the wrong
 * database, migrate --dry-run / --status --json / --stack on a real database, and bindings refusing ids that are
 * not known yet. Most cases call the command's entry point (`main` of infra/cli/main.ts, the same parse and exit-code
 * mapping) in this process, since each tsx process costs seconds on a loaded machine; one case per group also runs
 * the real subprocess.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../migrations/embedded";
import { main } from "../infra/cli/main";
import { planJson, ROOT, runCli, type CliResult } from "./helpers/cli";
import { fixtureDb, withClient } from "./helpers/db";

const pg = usePostgres({ beforeAll, afterAll });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-cli-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Nothing listens on port 1: a command that tried to connect would fail with exit 1, not 2. */
const UNREACHABLE = "postgres://owner:pw@127.0.0.1:1/mauntic";

/**
 * Runs the command in this process: `main` with its output captured, the environment set for the call, and
 * process.exitCode (which commands set on failure) restored after.
 */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  Object.assign(process.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The migration files a run applies, read from the folder itself. */
const MIGRATION_FILES = fs
  .readdirSync(path.join(ROOT, "migrations"))
  .filter((f) => /^\d{4}_.*\.sql$/.test(f))
  .sort();

describe("migrate: bad options exit 2 naming the flag, before any connection", () => {
  it.each([
    [["--status", "--dry-run"], /--status and --dry-run/],
    [["--stack", "dev", "--grants", '{"schemas":["crm"],"roles":{}}'], /--stack and --grants/],
    [["--grants", "{not json"], /--grants: not JSON/],
    [
      ["--grants", '{"schemas":["crm"],"roles":{"r":{"reads":["billing"]}}}'],
      /--grants: roles\.r: unknown schema 'billing'/,
    ],
    [["--grants", '{"schemas":[],"roles":{}}'], /--grants: schemas: .*\(allowed: \{"schemas"/],
    [["--stack", "staging"], /stack name 'staging' is not allowed/],
    [["--lock-timeout", "5x"], /--lock-timeout '5x'/],
    [["--retry-backoff", "1h"], /--retry-backoff '1h'/],
    [["--run-lock-wait", "soon"], /--run-lock-wait 'soon'/],
    [["--lock-retries", "-1"], /--lock-retries '-1'.*0\.\.999/],
    [["--lock-retries", "1000"], /--lock-retries '1000'/],
    [["--lock-retries", "two"], /--lock-retries 'two'/],
    [["--dry-run", "--lock-timeout", "0.5s"], /--lock-timeout '0.5s'/],
  ] as const)("migrate %j", async (args, message) => {
    const r = await cli(["migrate", "--database-url", UNREACHABLE, ...args]);
    expect(r.code, r.stderr).toBe(2);
    // the stable part: the flag and value named, and what is allowed
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\(allowed: /);
    expect(r.stdout).toBe("");
  });

  it("as a subprocess too: MAUNTIC_GRANTS is parsed as --grants is", async () => {
    const r = await runCli(["migrate", "--database-url", UNREACHABLE], { env: { MAUNTIC_GRANTS: "[1, 2" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --grants: not JSON/m);
  });
});

describe("every command that takes --database-url refuses a URL it cannot use, with exit 2", () => {
  const urls = [
    ["a non-URL (a bare database name)", "mauntic", /the database URL is not a URL \(allowed: postgres:\/\//],
    [
      "a wrong scheme",
      "mysql://owner:pw@db.example.com/mauntic",
      /the database URL has scheme 'mysql:' \(allowed: postgres:, postgresql:\)/,
    ],
    [
      "a URL without a host",
      "postgres:///mauntic",
      /the database URL has no host \(allowed: postgres:\/\/user:password@host\/db\)/,
    ],
  ] as const;
  const commands = [
    ["migrate"],
    ["migrate", "--status"],
    ["migrate", "--dry-run"],
    ["fixture"],
    ["seed-data", "--scale", "0.001"],
    ["explain"],
  ];

  it.each(urls)("%s", async (_, url, message) => {
    for (const c of commands) {
      const r = await cli([...c, "--database-url", url]);
      expect(r.code, `${c.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr, c.join(" ")).toMatch(message);
    }
  });

  it("the same through DATABASE_URL", async () => {
    for (const c of commands) {
      const r = await cli(c, { DATABASE_URL: "mysql://owner:pw@db.example.com/mauntic" });
      expect(r.code, c.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/scheme 'mysql:'/);
    }
  });

  it("as a subprocess too: explain with a URL without a host", async () => {
    const r = await runCli(["explain", "--database-url", "postgresql:///mauntic"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: the database URL has no host/m);
  });
});

describe("fixture and seed-data pointed at the wrong database", () => {
  it("fixture: a database that does not exist exits 1 naming it; seed-data without the fixture exits 2", async () => {
    const url = new URL(await pg.newDatabase());
    url.pathname = "/no_such_database";
    const missing = await cli(["fixture", "--database-url", url.toString()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^error: cannot connect to 127\.0\.0\.1:\d+\/no_such_database: database "no_such_database" does not exist \(check: the database name in the URL\)$/m,
    );

    const empty = await pg.newDatabase();
    const seed = await cli(["seed-data", "--database-url", empty, "--scale", "0.001"]);
    expect(seed.code).toBe(2);
    expect(seed.stderr).toMatch(
      /the app-schema fixture is not loaded \(missing .*crm\.contacts.*\); load it first: npm run infra -- fixture/,
    );
    // nothing was created on the way
    const tables = await withClient(empty, (c) =>
      c.query("SELECT 1 FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"),
    );
    expect(tables.rowCount).toBe(0);
  });
});

describe("migrate on a real database: --dry-run, --stack, --status --json", () => {
  /** The stack's worker roles with database access, as Pulumi.dev.yaml declares them (see the README). */
  const DEV_ROLES = [
    "mauntic_dev_analytics",
    "mauntic_dev_crm",
    "mauntic_dev_delivery",
    "mauntic_dev_identity",
    "mauntic_dev_journey",
  ];

  it("dry-run changes nothing; --stack applies migrations and grants; --status --json reports them", async () => {
    const url = await fixtureDb(pg);
    await withClient(url, async (c) => {
      for (const role of DEV_ROLES) await c.query(`CREATE ROLE ${role} LOGIN`);
    });

    const dry = await cli(["migrate", "--database-url", url, "--dry-run", "--stack", "dev"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(`dry run on .*: ${MIGRATION_FILES.length} migration\\(s\\) would be applied`),
    );
    for (const f of MIGRATION_FILES) expect(dry.stdout).toContain(f);
    expect(dry.stdout).toMatch(/grants: \d+ changes would be applied/);
    expect(dry.stdout).toMatch(/mauntic_dev_crm on crm /);
    const untouched = await withClient(url, async (c) => ({
      ledger: (await c.query("SELECT 1 FROM pg_namespace WHERE nspname = 'mauntic_migrations'")).rowCount,
      usage: (await c.query("SELECT has_schema_privilege('mauntic_dev_crm', 'crm', 'USAGE') AS u")).rows[0].u,
    }));
    expect(untouched).toEqual({ ledger: 0, usage: false });

    const dryJson = JSON.parse((await cli(["migrate", "--database-url", url, "--dry-run", "--json"])).stdout) as {
      pending: { file: string }[];
      grants: { skipped?: string };
    };
    expect(dryJson.pending.map((p) => p.file)).toEqual(MIGRATION_FILES);
    expect(dryJson.grants.skipped).toMatch(/no --stack or --grants given/);

    const run = await cli(["migrate", "--database-url", url, "--stack", "dev"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${MIGRATION_FILES.length} applied this run`));
    const privileges = await withClient(
      url,
      async (c) =>
        (
          await c.query<{ role: string; crm: boolean; identity: boolean; writes_identity: boolean }>(
            `SELECT r AS role, has_schema_privilege(r, 'crm', 'USAGE') AS crm,
                  has_schema_privilege(r, 'identity', 'USAGE') AS identity,
                  has_table_privilege(r, 'identity.users', 'INSERT') AS writes_identity
             FROM unnest($1::text[]) AS r ORDER BY r`,
            [["mauntic_dev_crm", "mauntic_dev_identity"]],
          )
        ).rows,
    );
    // Pulumi.dev.yaml: crm reads crm and identity, writes crm; identity reads and writes identity only
    expect(privileges).toEqual([
      { role: "mauntic_dev_crm", crm: true, identity: true, writes_identity: false },
      { role: "mauntic_dev_identity", crm: false, identity: true, writes_identity: true },
    ]);

    const status = await runCli(["migrate", "--database-url", url, "--status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { migrations: { file: string; status: string }[]; invalidIndexes: string[] };
    expect(s.migrations.map((m) => [m.file, m.status])).toEqual(MIGRATION_FILES.map((f) => [f, "applied"]));
    expect(s.invalidIndexes).toEqual([]);

    const again = await cli(["migrate", "--database-url", url, "--dry-run", "--stack", "dev"]);
    expect(again.stdout).toMatch(/0 migration\(s\) would be applied/);
    expect(again.stdout).toMatch(/grants: every worker role already holds exactly its declared privileges/);
  });
});

describe("bindings refuses ids that are not known yet", () => {
  it("outputs with an id the offline plan marks unknown exit 2 and write nothing", async () => {
    const outputs = structuredClone((await planJson("dev")).outputs) as Record<string, any>;
    // how `plan --json` marks a value not known until the resource exists (infra/offline/plan.ts)
    outputs.bindings.crm.hyperdrive[0].id = "[unknown]";
    const file = path.join(tmp, "unknown-ids.json");
    fs.writeFileSync(file, JSON.stringify(outputs));
    const out = path.join(tmp, "wrangler");
    const r = await runCli(["bindings", "--stack", "dev", "--from-stack-output", file, "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /unknown-ids\.json: some binding ids are not known yet \(allowed: outputs after pulumi up\)/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});
