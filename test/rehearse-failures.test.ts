/**
 * `rehearse` as a user runs it when something is wrong: a migration that fails, a key query the migrations leave
 * unserved, a stack file whose program fails, each one exits 1 naming the failed part; and a stack other than dev
 * rehearses its own plan and worker grants. The failures are injected the way a user would meet them: a migrations
 * folder (--dir) and a stack file (--config-file) that are not the committed ones.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { stackFilePath } from "../infra/config/load";
import { ROOT, runCli } from "./helpers/cli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-rehearse-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the committed migrations folder without `drop`, plus `extra` files. */
function migrationsDir(name: string, drop: string[], extra: Record<string, string> = {}): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(path.join(ROOT, "migrations"))) {
    if (/^\d{4}_.*\.sql$/.test(f) && !drop.some((d) => f.startsWith(d))) {
      fs.copyFileSync(path.join(ROOT, "migrations", f), path.join(dir, f));
    }
  }
  for (const [f, sql] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), sql);
  return dir;
}

// The database part's size: big enough that every key query's index beats a scan (as at the default 0.05).
const SCALE = "0.02";
const TIMEOUT = 180_000;

describe("rehearse exits 1 naming the part that failed", () => {
  it(
    "a migration that fails while applying: the file and line, and the migrations before it applied",
    async () => {
      const dir = migrationsDir("failing", [], {
        "0008_contacts_missing_column.sql":
          "-- refers to a column the fixture does not have\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contacts_nope\n  ON crm.contacts (nope);\n",
      });
      // the explain check never runs: the smallest scale will do
      const r = await runCli(["rehearse", "--no-deploy", "--scale", "0.001", "--dir", dir]);
      expect(r.code, r.stderr.slice(-2000)).toBe(1);
      expect(r.stdout).toMatch(/0007\s+journey_executions_active_started\s+applied/);
      expect(r.stdout).toMatch(/0008\s+contacts_missing_column\s+failed/);
      expect(r.stdout).toMatch(
        /== rehearsal FAILED in [\d.]+m?s: database: .*0008_contacts_missing_column\.sql:2: .*column "nope" does not exist/,
      );
      // the plan part still ran and passed
      expect(r.stdout).toMatch(/stack dev: \d+ resources to create/);
      expect(r.stdout).not.toMatch(/FAILED.*plan:/);
    },
    TIMEOUT,
  );

  it(
    "migrations that leave key queries unserved: the explain check names them, the ->> segment query too",
    async () => {
      // without the GIN index (0005) and the stale-execution index (0007)
      const dir = migrationsDir("unserved", ["0005_", "0007_"]);
      const r = await runCli(["rehearse", "--no-deploy", "--scale", SCALE, "--dir", dir]);
      expect(r.code, r.stderr.slice(-2000)).toBe(1);
      expect(r.stdout).toMatch(/^FAIL stale-execution-cleanup: .*not served by idx_journey_executions_active_started/m);
      expect(r.stdout).toMatch(/^FAIL segment-members: no index in the plan serves `->>`/m);
      expect(r.stdout).toMatch(
        /== rehearsal FAILED in [\d.]+m?s: explain check: not index-served: segment-members, segment-members-containment, stale-execution-cleanup$/m,
      );
    },
    TIMEOUT,
  );

  it(
    "a stack file whose program fails: the plan's reason, and the database part's own refusal of that role",
    async () => {
      const doc = YAML.parse(fs.readFileSync(stackFilePath("dev"), "utf8")) as { config: Record<string, any> };
      const workers = doc.config["mauntic-infra:workers"];
      // a worker named like the migrator role: the schema allows the name, the Neon component refuses it
      workers.migrator = {
        description: "named like the migrator",
        database: {
          reads: ["crm"],
          writes: [],
          hyperdrive: { caching: { enabled: false }, originConnectionLimit: 5 },
        },
      };
      const file = path.join(tmp, "Pulumi.dev.yaml");
      fs.writeFileSync(file, YAML.stringify(doc));
      const r = await runCli(["rehearse", "--no-deploy", "--scale", SCALE, "--config-file", file]);
      expect(r.code, r.stderr.slice(-2000)).toBe(1);
      expect(r.stdout).toMatch(/plan failed: .*worker name 'migrator' is taken by the migrator role/);
      expect(r.stdout).toMatch(/== rehearsal FAILED in [\d.]+m?s: plan: .*worker name 'migrator' is taken/);
      // The worker's login role would be the migrator itself: the LoginRole provider refuses to take over a
      // neon_superuser member, so the database part names the same mistake in its own words.
      expect(r.stdout).toMatch(/FAILED.*database: role mauntic_dev_migrator already exists with more than LOGIN/);
      expect(r.stdout).not.toMatch(/FAILED.*explain check:/);
    },
    TIMEOUT,
  );
});

describe("rehearse with a stack other than dev", () => {
  it(
    "prod: its own plan and its worker roles' grants, then exit 0",
    async () => {
      const r = await runCli(["rehearse", "--no-deploy", "--stack", "prod", "--scale", SCALE]);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stdout).toMatch(/== plan: stack prod, offline/);
      expect(r.stdout).toMatch(/stack prod: \d+ resources to create/);
      // the grants went to prod's roles, not dev's
      expect(r.stdout).toMatch(/mauntic_prod_crm on crm/);
      expect(r.stdout).not.toMatch(/mauntic_dev_/);
      expect(r.stdout).toMatch(/== rehearsal ok in [\d.]+m?s/);
    },
    TIMEOUT,
  );

  it("refuses a stack name that is not dev, prod or pr-<N> with exit 2", async () => {
    const r = await runCli(["rehearse", "--no-deploy", "--stack", "staging"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stack name 'staging' is not allowed/);
  });
});
