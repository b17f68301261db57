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
import { planJson, ROOT } from "./helpers/cli";
import { usePostgres } from "../migrations/embedded";
import { fixtureDb, withClient } from "./helpers/db";

const pg = usePostgres({ beforeAll, afterAll });
const plans: Record<string, Plan> = {};
beforeAll(async () => {
  const [dev, prod] = await Promise.all([planJson("dev"), planJson("prod")]);
  plans.dev = dev;
  plans.prod = prod;
}, 120_000);

function postDeploy(plan: Plan): { component: PlanResource; command: PlanResource } {
  const components = plan.resources.filter((r) => r.type === "mauntic:migrations:PostDeploy");
  expect(components).toHaveLength(1);
  const children = plan.resources.filter((r) => r.parent === components[0]!.urn);
  expect(children.map((r) => r.type)).toEqual(["command:local:Command"]);
  return { component: components[0]!, command: children[0]! };
}

describe("the post-deploy step", () => {
  it.each(["dev", "prod"])(
    "appears in the %s plan: the runner, secret URI, checksum + grants triggers, no delete",
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
      expect(inputs.update).toBeUndefined();
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
      for (const role of roles) await c.query(`CREATE ROLE ${role}`);
      // The shell and folder the Command uses; the secret URI replaced by the embedded database's.
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn("/bin/sh", ["-c", inputs.create], {
          cwd: ROOT,
          env: { ...process.env, ...inputs.environment, DATABASE_URL: url },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
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
