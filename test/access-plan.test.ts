/**
 * Database access in the offline plans of prod and pr-42: worker roles are SQL LoginRoles made with the migrator's
 * secret URI, each Hyperdrive config connects as its worker's role only once that role exists (its inputs come from
 * the role's outputs), the post-deploy step waits for every role, and a preview's migrator has dev's role name.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadStackConfigFromFile } from "../infra/config/load";
import { LOGIN_ROLE_TYPE } from "../infra/neon/login-role";
import type { Plan } from "../infra/offline/plan";
import { planJson, ROOT, runCli } from "./helpers/cli";

const HYPERDRIVE = "cloudflare:index/hyperdriveConfig:HyperdriveConfig";
const plans: Record<string, Plan> = {};
beforeAll(async () => {
  const [prod, pr] = await Promise.all([planJson("prod"), planJson("pr-42")]);
  Object.assign(plans, { prod, "pr-42": pr });
}, 180_000);

const ofType = (plan: Plan, type: string) => plan.resources.filter((r) => r.type === type);

describe("prod", () => {
  it("one LoginRole per database worker: the migrator's URI secret, version 1, protected like every Neon child", () => {
    const plan = plans.prod!;
    const workers = Object.entries(loadStackConfigFromFile("prod").workers).filter(([, w]) => w.database);
    const roles = ofType(plan, LOGIN_ROLE_TYPE);
    expect(roles.map((r) => r.inputs.name).sort()).toEqual(workers.map(([w]) => `mauntic_prod_${w}`).sort());
    const neon = plan.resources.find((r) => r.type === "mauntic:neon:Database")!;
    const migrator = ofType(plan, "pulumi-nodejs:dynamic/neon:Role")[0]!;
    const database = ofType(plan, "pulumi-nodejs:dynamic/neon:Database")[0]!;
    for (const r of roles) {
      expect(r.inputs).toMatchObject({ admin_uri: "[secret]", password_version: 1 });
      expect([r.parent, r.protect, r.retainOnDelete]).toEqual([neon.urn, true, true]);
      // It connects as the migrator to the database: both exist first.
      expect(r.dependsOn).toEqual(expect.arrayContaining([migrator.urn, database.urn]));
    }
  });

  it("each Hyperdrive config connects as its worker's role, after that role exists; the post-deploy step too", () => {
    const plan = plans.prod!;
    const roles = new Map(ofType(plan, LOGIN_ROLE_TYPE).map((r) => [String(r.inputs.name), r.urn]));
    const configs = ofType(plan, HYPERDRIVE);
    expect(configs.length).toBeGreaterThan(0);
    for (const c of configs) {
      const origin = c.inputs.origin as { user: string; password: string };
      expect(origin.password).toBe("[secret]");
      expect(roles.has(origin.user)).toBe(true);
      expect(c.dependsOn).toContain(roles.get(origin.user));
    }
    const command = ofType(plan, "command:local:Command")[0]!;
    for (const urn of roles.values()) expect(command.dependsOn).toContain(urn);
  });
});

describe("pr-42", () => {
  it("connects as dev's migrator name on its own branch; its worker roles are its own", () => {
    const plan = plans["pr-42"]!;
    const [migrator, ...more] = ofType(plan, "pulumi-nodejs:dynamic/neon:Role");
    expect(more).toEqual([]);
    expect(migrator!.inputs).toMatchObject({ name: "mauntic_dev_migrator", branch_id: plan.outputs.neonBranchId });
    expect(ofType(plan, LOGIN_ROLE_TYPE).every((r) => /^mauntic_pr_42_[a-z]+$/.test(String(r.inputs.name)))).toBe(true);
  });
});

describe("passwordVersion", () => {
  it("a bumped version reaches the worker's LoginRole; a bad one is refused naming its YAML path", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "access-plan-"));
    try {
      const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
      const marker = "        reads: [crm, identity]\n";
      expect(dev).toContain(marker);
      const bumped = path.join(dir, "bumped.yaml");
      const bad = path.join(dir, "bad.yaml");
      fs.writeFileSync(bumped, dev.replace(marker, `${marker}        passwordVersion: 3\n`));
      fs.writeFileSync(bad, dev.replace(marker, `${marker}        passwordVersion: 0\n`));
      const [ok, refused] = await Promise.all([
        planJson("dev", ["--config-file", bumped]),
        runCli(["plan", "--stack", "dev", "--config-file", bad]),
      ]);
      const versions = Object.fromEntries(
        ofType(ok, LOGIN_ROLE_TYPE).map((r) => [String(r.inputs.name), r.inputs.password_version]),
      );
      expect(versions).toMatchObject({ mauntic_dev_crm: 3, mauntic_dev_identity: 1 });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/workers\.crm\.database\.passwordVersion/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
