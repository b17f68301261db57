/**
 * The post-deploy step in the offline plan (dev and prod), and the exact command it declares run against
 * embedded PostgreSQL 17 with the environment the plan gives it.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { loadStackConfigFromFile } from "../infra/config/load";
import { migrationsChecksum } from "../migrations/runner/checksum";
import { grantsFromConfig } from "../migrations/runner/grants-spec";
import type { Plan, PlanResource } from "../infra/offline/plan";
import { planJson, ROOT, runCli } from "./helpers/cli";
import { usePostgres } from "../migrations/embedded";
import { fixtureDb, withClient } from "./helpers/db";
import { loadFixture } from "../migrations/fixture/load";

const pg = usePostgres({ beforeAll, afterAll });
const plans: Record<string, Plan> = {};
/** dev planned as two deployments would run it: a CI run id each (MAUNTIC_DEPLOYMENT_ID). */
const deployments: Plan[] = [];
beforeAll(async () => {
  const planAs = async (id: string) => {
    const r = await runCli(["plan", "--stack", "dev", "--json"], { env: { MAUNTIC_DEPLOYMENT_ID: id } });
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Plan;
  };
  const [dev, prod, one, two] = await Promise.all([
    planJson("dev"),
    planJson("prod"),
    planAs("run-101"),
    planAs("run-102"),
  ]);
  plans.dev = dev;
  plans.prod = prod;
  deployments.push(one, two);
}, 180_000);

/** Roles are per server and the tests here share one: made once, whichever test comes first. */
const createRoleOnce = (role: string) =>
  `DO $$ BEGIN CREATE ROLE ${role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`;

/** Runs the command as the Command resource declares it: /bin/sh -c in the project folder with its environment. */
function runDeclared(
  create: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", create], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function postDeploy(plan: Plan): { component: PlanResource; command: PlanResource } {
  const components = plan.resources.filter((r) => r.type === "mauntic:migrations:PostDeploy");
  expect(components).toHaveLength(1);
  const children = plan.resources.filter((r) => r.parent === components[0]!.urn);
  expect(children.map((r) => r.type)).toEqual(["command:local:Command"]);
  return { component: components[0]!, command: children[0]! };
}

describe("the post-deploy step", () => {
  it.each(["dev", "prod"])(
    "appears in the %s plan: the runner on create and update, secret URI, checksum + grants triggers, no delete",
    (stack) => {
      const plan = plans[stack]!;
      const { command } = postDeploy(plan);
      const inputs = command.inputs as {
        create: string;
        delete?: string;
        update?: string;
        environment: Record<string, string>;
        triggers: string[];
      };
      expect(inputs.create).toMatch(/infra\/cli\/main\.ts migrate$/);
      expect(inputs.delete).toBeUndefined();
      // A changed input (the deployment id) is an update, which runs the same runner.
      expect(inputs.update).toBe(inputs.create);
      expect(inputs.environment.MAUNTIC_DEPLOYMENT).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(inputs.environment.DATABASE_URL).toBe("[secret]");
      const grants = grantsFromConfig(stack, loadStackConfigFromFile(stack));
      expect(JSON.parse(inputs.environment.MAUNTIC_GRANTS!)).toEqual(grants);
      expect(inputs.triggers).toEqual([migrationsChecksum(), JSON.stringify(grants)]);
      expect(plan.outputs.migrationsChecksum).toBe(migrationsChecksum());

      // After the database component: its database and every role exist before the runner starts.
      const neon = plan.resources.find((r) => r.type === "mauntic:neon:Database")!;
      const neonChildren = plan.resources.filter(
        (r) => r.parent === neon.urn && r.custom && /role|database/.test(r.name),
      );
      expect(neonChildren.length).toBeGreaterThan(2);
      for (const r of neonChildren) expect(command.dependsOn).toContain(r.urn);
    },
  );

  it("re-runs on every deploy: two deployments differ in the command's deployment id and nothing else", () => {
    const [one, two] = deployments.map((p) => postDeploy(p!).command.inputs as { environment: Record<string, string> });
    expect(one!.environment.MAUNTIC_DEPLOYMENT).toBe("run-101");
    expect(two!.environment.MAUNTIC_DEPLOYMENT).toBe("run-102");
    // The engine diffs these inputs: the one change makes every `pulumi up` an update of the Command, which runs
    // `update` (the runner); in `pulumi preview` the command provider runs nothing (see infra/postdeploy/index.ts).
    const rest = (p: Plan) => {
      const { environment, ...inputs } = postDeploy(p).command.inputs as { environment: Record<string, string> };
      const { MAUNTIC_DEPLOYMENT: _d, ...env } = environment;
      return { ...inputs, environment: env };
    };
    expect(rest(deployments[0]!)).toEqual(rest(deployments[1]!));
    // Everything else in the two plans is the same: only the post-deploy step changes between deploys.
    const others = (p: Plan) => p.resources.filter((r) => r.type !== "command:local:Command");
    expect(others(deployments[0]!)).toEqual(others(deployments[1]!));
  });

  it("a first deploy's run waits for the app's tables (exit 0); the next deploy's run applies everything", async () => {
    const { command } = postDeploy(plans.dev!);
    const inputs = command.inputs as { create: string; environment: Record<string, string> };
    const url = await pg.newDatabase();
    await withClient(url, async (c) => {
      for (const role of Object.keys(JSON.parse(inputs.environment.MAUNTIC_GRANTS!).roles as object)) {
        await c.query(createRoleOnce(role));
      }
    });
    const first = await runDeclared(inputs.create, { ...inputs.environment, DATABASE_URL: url });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/0 applied this run/);
    expect(first.stdout).toMatch(/migrations wait for tables the application has not created yet/);
    expect(first.stdout).toMatch(/schema identity does not exist yet: its grants wait for a later run/);

    await loadFixture(url); // the application's own schema migrations, after its workers are deployed
    const next = await runDeclared(inputs.create, { ...inputs.environment, DATABASE_URL: url });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/[1-9]\d* applied this run, 0 already applied/);
    expect(next.stdout).not.toMatch(/waiting/);
    expect(next.stdout).toMatch(/grants: \d+ changes applied/);
  }, 120_000);

  it("the checksum follows the migration files' names and bytes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-checksum-"));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, "0001_a.sql"), "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (a);\n");
    const first = migrationsChecksum(dir);
    expect(migrationsChecksum(dir)).toBe(first);
    fs.writeFileSync(path.join(dir, "notes.txt"), "not a migration");
    expect(migrationsChecksum(dir)).toBe(first);
    fs.appendFileSync(path.join(dir, "0001_a.sql"), "-- edited\n");
    const edited = migrationsChecksum(dir);
    expect(edited).not.toBe(first);
    fs.writeFileSync(path.join(dir, "0002_b.sql"), "SELECT 1;\n");
    expect(migrationsChecksum(dir)).not.toBe(edited);
  });

  it("its command, run as declared with the plan's environment, migrates and grants", async () => {
    const { command } = postDeploy(plans.dev!);
    const inputs = command.inputs as { create: string; environment: Record<string, string> };
    const url = await fixtureDb(pg);
    await withClient(url, async (c) => {
      const roles = Object.keys(JSON.parse(inputs.environment.MAUNTIC_GRANTS!).roles as object);
      for (const role of roles) await c.query(createRoleOnce(role));
      // The shell and folder the Command uses; the secret URI replaced by the embedded database's.
      const result = await runDeclared(inputs.create, { ...inputs.environment, DATABASE_URL: url });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/applied this run/);
      expect(result.stdout).toMatch(/grants: \d+ changes applied/);
      const { rows } = await c.query(
        "SELECT has_schema_privilege('mauntic_dev_crm', 'identity', 'USAGE') AS reads, has_schema_privilege('mauntic_dev_crm', 'analytics', 'USAGE') AS other",
      );
      expect(rows[0]).toEqual({ reads: true, other: false });
    });
  });
});
