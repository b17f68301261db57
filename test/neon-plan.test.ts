/**
 * The Neon component in the dev, prod and pr-42 plans (offline engine, through the CLI), and the secrecy of every
 * connection string and password under the mocks (`pulumi.isSecret`, in a tsx child process).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { loadStackConfigFromFile } from "../infra/config/load";
import type { Plan, PlanResource } from "../infra/offline/plan";
import { planJson, ROOT, runCli, runTsxFixture } from "./helpers/cli";

const T = {
  component: "mauntic:neon:Database",
  project: "pulumi-nodejs:dynamic/neon:Project",
  branch: "pulumi-nodejs:dynamic/neon:Branch",
  endpoint: "pulumi-nodejs:dynamic/neon:Endpoint",
  role: "pulumi-nodejs:dynamic/neon:Role",
  loginRole: "pulumi-nodejs:dynamic/postgres:LoginRole",
  database: "pulumi-nodejs:dynamic/neon:Database",
};

const plans: Record<string, Plan> = {};
let planStarted = 0;
let planEnded = 0;

beforeAll(async () => {
  planStarted = Date.now();
  const [dev, prod, pr] = await Promise.all([planJson("dev"), planJson("prod"), planJson("pr-42")]);
  planEnded = Date.now();
  Object.assign(plans, { dev, prod, "pr-42": pr });
});

const ofType = (plan: Plan, type: string) => plan.resources.filter((r) => r.type === type);
const neonResources = (plan: Plan) => plan.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/neon:"));
const component = (plan: Plan) => {
  const c = ofType(plan, T.component);
  expect(c).toHaveLength(1);
  return c[0]!;
};
/**
 * Login roles: the migrator (a Neon API role; a preview's has dev's name) and one per worker with `database` (SQL
 * LoginRole), named by cloudName(stack, "pgRole", ...).
 */
const expectedRoles = (stack: string) => {
  const prefix = `mauntic_${stack.replace("-", "_")}_`;
  const workers = Object.entries(loadStackConfigFromFile(stack).workers)
    .filter(([, w]) => w.database)
    .map(([w]) => prefix + w);
  return [stack.startsWith("pr-") ? "mauntic_dev_migrator" : prefix + "migrator", ...workers].sort();
};
const roleNames = (plan: Plan) =>
  [...ofType(plan, T.role), ...ofType(plan, T.loginRole)].map((r) => r.inputs.name).sort();
const endpointsByType = (plan: Plan) =>
  Object.fromEntries(ofType(plan, T.endpoint).map((e) => [String(e.inputs.type), e])) as Record<string, PlanResource>;

describe("prod", () => {
  test("one project, one read_write and one read_only endpoint, a role per worker plus the migrator, one database", () => {
    const plan = plans.prod!;
    const neon = loadStackConfigFromFile("prod").neon;
    const [project, ...more] = ofType(plan, T.project);
    expect(more).toEqual([]);
    expect(project!.inputs).toMatchObject({
      name: "mauntic-prod",
      region_id: neon.region,
      pg_version: neon.postgresVersion,
      history_retention_seconds: neon.historyRetentionSeconds,
      default_endpoint_settings: { suspend_timeout_seconds: -1 },
    });
    // The project's default branch (named by the project's `branch.name`), adopted so children take its id.
    const [main, ...moreBranches] = ofType(plan, T.branch);
    expect(moreBranches).toEqual([]);
    expect(main!.inputs).toMatchObject({ project_id: plan.outputs.neonProjectId, name: "main", default: true });
    expect(main!.inputs).not.toHaveProperty("expires_at");
    expect((project!.inputs.branch as { name: string }).name).toBe("main");

    const eps = endpointsByType(plan);
    expect(Object.keys(eps).sort()).toEqual(["read_only", "read_write"]);
    expect(ofType(plan, T.endpoint)).toHaveLength(2);
    expect(eps.read_write!.inputs).toMatchObject({
      autoscaling_limit_min_cu: neon.primary.minCu,
      autoscaling_limit_max_cu: neon.primary.maxCu,
      suspend_timeout_seconds: -1,
    });
    expect(eps.read_only!.inputs).toMatchObject({
      autoscaling_limit_min_cu: neon.replica.minCu,
      autoscaling_limit_max_cu: neon.replica.maxCu,
    });

    const roles = ofType(plan, T.role);
    expect(roleNames(plan)).toEqual(expectedRoles("prod"));
    const migrator = roles.find((r) => r.inputs.name === "mauntic_prod_migrator")!;
    const [db, ...moreDbs] = ofType(plan, T.database);
    expect(moreDbs).toEqual([]);
    expect(db!.inputs).toMatchObject({ name: neon.databaseName, owner_name: "mauntic_prod_migrator" });
    expect(db!.dependsOn).toContain(migrator.urn);

    // Everything sits on the default branch, under the component, waiting on the project and the branch (whose ids
    // it takes: an id stays known while the project previews an update).
    const projectId = plan.outputs.neonProjectId;
    expect(projectId).toMatch(/^mauntic-[0-9a-f]{12}$/);
    expect(plan.outputs.neonBranchId).toMatch(/^br-[0-9a-f]{12}$/);
    for (const r of neonResources(plan).filter((r) => r.type !== T.project && r.type !== T.branch)) {
      expect(r.inputs).toMatchObject({ project_id: projectId, branch_id: plan.outputs.neonBranchId });
      expect(r.dependsOn).toEqual(expect.arrayContaining([project!.urn, main!.urn]));
    }
    for (const r of neonResources(plan)) expect(r.parent).toBe(component(plan).urn);
  });

  test("every Neon resource is protected and retained on delete", () => {
    for (const r of neonResources(plans.prod!))
      expect([r.name, r.protect, r.retainOnDelete]).toEqual([r.name, true, true]);
  });

  test("outputs: hosts in clear (pooled = endpoint id + -pooler), URIs secret", () => {
    const o = plans.prod!.outputs;
    expect(o.databaseDirectHost).toMatch(/^ep-[a-z0-9-]+\.us-east-2\.aws\.neon\.tech$/);
    const [id, ...rest] = String(o.databaseDirectHost).split(".");
    expect(o.databasePooledHost).toBe([`${id}-pooler`, ...rest].join("."));
    expect(o.databaseReplicaHost).toMatch(/^ep-.+\.neon\.tech$/);
    expect(o.databaseReplicaHost).not.toBe(o.databaseDirectHost);
    for (const k of ["databaseDirectUri", "databasePooledUri", "databaseReplicaUri"]) expect(o[k]).toBe("[secret]");
    expect(o.neonProjectId).toEqual(expect.any(String));
  });
});

describe("dev", () => {
  test("a project with a replica, nothing protected, exporting the ids previews read", () => {
    const plan = plans.dev!;
    expect(ofType(plan, T.project)).toHaveLength(1);
    expect(ofType(plan, T.branch).map((b) => b.inputs)).toEqual([
      { project_id: plan.outputs.neonProjectId, name: "main", default: true, __provider: "[dynamic provider]" },
    ]);
    expect(Object.keys(endpointsByType(plan)).sort()).toEqual(["read_only", "read_write"]);
    expect(roleNames(plan)).toEqual(expectedRoles("dev"));
    for (const r of neonResources(plan)) expect([r.protect, r.retainOnDelete]).toEqual([false, false]);
    expect(plan.outputs.neonProjectId).toEqual(expect.any(String));
    expect(plan.outputs.neonBranchId).toEqual(expect.any(String));
  });
});

describe("pr-42", () => {
  test("a branch of dev's project with expires_at from the TTL, no project, no replica", () => {
    const plan = plans["pr-42"]!;
    expect(ofType(plan, T.project)).toEqual([]);
    const [branch, ...more] = ofType(plan, T.branch);
    expect(more).toEqual([]);
    // dev's project and primary branch, as dev's stack exports them (a StackReference, never a literal id).
    expect(branch!.inputs).toMatchObject({
      name: "mauntic-pr-42",
      project_id: plans.dev!.outputs.neonProjectId,
      parent_id: plans.dev!.outputs.neonBranchId,
    });
    expect(branch!.dependsOn.some((u) => u.includes("pulumi:pulumi:StackReference::mauntic/mauntic-infra/dev"))).toBe(
      true,
    );
    const ttlMs = loadStackConfigFromFile("pr-42").preview.branchTtlHours * 3600_000;
    const expires = String(branch!.inputs.expires_at);
    expect(expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(expires)).toBeGreaterThanOrEqual(Math.floor(planStarted / 1000) * 1000 + ttlMs);
    expect(Date.parse(expires)).toBeLessThanOrEqual(planEnded + ttlMs);
    expect(Date.parse(expires) - planEnded).toBeLessThanOrEqual(30 * 24 * 3600_000);

    const eps = ofType(plan, T.endpoint);
    expect(eps.map((e) => e.inputs.type)).toEqual(["read_write"]);
    expect(eps[0]!.inputs).toMatchObject({
      branch_id: plan.outputs.neonBranchId,
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 0.25,
    });
    expect(roleNames(plan)).toEqual(expectedRoles("pr-42"));
    // dev's migrator's name on the branch (it owns the tables the branch copied), with a password of its own.
    expect(ofType(plan, T.database)[0]!.inputs).toMatchObject({ owner_name: "mauntic_dev_migrator" });
    for (const r of neonResources(plan)) expect([r.protect, r.parent]).toEqual([false, component(plan).urn]);
    expect(plan.outputs).not.toHaveProperty("databaseReplicaHost");
    expect(plan.outputs).not.toHaveProperty("databaseReplicaUri");
    expect(plan.outputs.databasePooledUri).toBe("[secret]");
  });
});

test("a preview parent other than dev is refused before anything is planned (exit 2, the YAML path named)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "neon-plan-"));
  const file = path.join(dir, "Pulumi.dev.yaml");
  const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
  fs.writeFileSync(
    file,
    dev.replace("parentStack: mauntic/mauntic-infra/dev", "parentStack: mauntic/mauntic-infra/prod"),
  );
  const r = await runCli(["plan", "--stack", "pr-7", "--config-file", file]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(
    "config.mauntic-infra:preview.parentStack: preview branches fork the dev stack's Neon project, never 'prod' (allowed: <org>/<project>/dev)",
  );
});

describe("under the mocks", () => {
  let report: Record<string, { secret: boolean; value: unknown }>;
  beforeAll(() => {
    report = runTsxFixture<typeof report>("neon-mock-secrets.ts");
  });

  test("every connection string and password is secret; hosts and user names are not", () => {
    const keys = Object.keys(report);
    const secretKeys = keys.filter((k) => /(Uri|password)$/.test(k));
    // dev and prod: 3 URIs each, pr-42: 2; a password for the migrator and each of 5 workers per stack.
    expect(secretKeys).toHaveLength(3 + 3 + 2 + 3 * 6);
    for (const k of keys) expect([k, report[k]!.secret]).toEqual([k, secretKeys.includes(k)]);
  });

  test("URIs name their role, host and database: direct for migrations, -pooler for pooled", () => {
    const direct = String(report["prod.directUri"]!.value);
    const pooled = String(report["prod.pooledUri"]!.value);
    const host = String(report["prod.directHost"]!.value);
    const password = String(report["prod.migrator.password"]!.value);
    expect(direct).toBe(`postgresql://mauntic_prod_migrator:${password}@${host}:5432/mauntic?sslmode=require`);
    expect(pooled).toBe(
      `postgresql://mauntic_prod_migrator:${password}@${report["prod.pooledHost"]!.value}:5432/mauntic?sslmode=require`,
    );
    expect(String(report["prod.pooledHost"]!.value)).toContain("-pooler.");
  });
});
