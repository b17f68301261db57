/**
 * The Neon dynamic providers against the local fake Neon API: create -> update -> delete sequences, diff decisions,
 * and every injected fault, asserting the fake's final state (nothing leaked, nothing doubled, no write while an
 * operation runs).
 */
import * as util from "node:util";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { configureNeonClient, isNeonApiError, neonClient } from "../infra/neon/client";
import {
  branchProvider,
  databaseProvider,
  endpointProvider,
  projectProvider,
  roleProvider,
  type BranchInputs,
  type ProjectInputs,
} from "../infra/neon/providers";
import type { FakeNeon } from "./fakes/neon";
import { endpointInputs, projectInputs } from "./fixtures/neon-inputs";
import { NEON_FAST_CLOCKS, startFakeNeon, stopFakeNeon } from "./helpers/fake-neon";

const KEY = "neon-key-5f1c2e9a7b";
const FAST = NEON_FAST_CLOCKS;
let fake: FakeNeon;
let baseUrl: string;

beforeEach(async () => {
  fake = await startFakeNeon(KEY);
  baseUrl = fake.baseUrl!;
});

afterEach(() => stopFakeNeon(fake));

async function createProject(over: Partial<ProjectInputs> = {}) {
  const res = await projectProvider.create(projectInputs(over));
  return { id: res.id, outs: res.outs, on: { project_id: res.outs.project_id, branch_id: res.outs.default_branch_id } };
}

/** `expires_at` `hours` from now: RFC 3339 to the second, as Neon takes it. */
const inHours = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

const only = <T>(xs: T[]): T => {
  expect(xs).toHaveLength(1);
  return xs[0]!;
};

describe("create -> update -> delete", () => {
  test("a project with its endpoints, roles and database, then everything removed in dependency order", async () => {
    const { id, outs, on } = await createProject();
    expect(outs.project_id).toBe(id);

    // The project's default compute becomes the primary (one read_write per branch); the replica is new.
    const primary = await endpointProvider.create(endpointInputs(on, { autoscaling_limit_max_cu: 2 }));
    const replica = await endpointProvider.create(
      endpointInputs(on, { type: "read_only", name: "mauntic-dev-replica" }),
    );
    expect(primary.outs.host).toBe(`${primary.id}.us-east-2.aws.neon.tech`);

    // The migrator exists already (the project made it): adopted with a fresh password that Neon now holds.
    const migrator = await roleProvider.create({ ...on, name: "mauntic_dev_migrator" });
    const workers = await Promise.all(
      ["identity", "crm", "delivery", "analytics", "journey"].map((w) =>
        roleProvider.create({ ...on, name: `mauntic_dev_${w}` }),
      ),
    );
    const db = await databaseProvider.create({ ...on, name: "mauntic", owner_name: "mauntic_dev_migrator" });

    const [p] = fake.snapshot();
    expect(p!.endpoints.map((e) => [e.type, e.name, e.autoscaling_limit_max_cu])).toEqual([
      ["read_write", "mauntic-dev-primary", 2],
      ["read_only", "mauntic-dev-replica", 1],
    ]);
    const main = only(p!.branches);
    expect(main.roles).toEqual([
      "mauntic_dev_analytics",
      "mauntic_dev_crm",
      "mauntic_dev_delivery",
      "mauntic_dev_identity",
      "mauntic_dev_journey",
      "mauntic_dev_migrator",
    ]);
    expect(main.databases).toEqual([{ name: "mauntic", owner: "mauntic_dev_migrator" }]);
    const live = fake.projects.get(id)!.roles.get(on.branch_id)!;
    expect(migrator.outs.password).toBe(live.get("mauntic_dev_migrator")!.password);
    for (const w of workers) expect(w.outs.password).toBe(live.get(w.outs.name)!.password);

    // Updates: a CU change and a retention change are updates, applied in place.
    const bigger = endpointInputs(on, { autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 4 });
    expect(await endpointProvider.diff!(primary.id, primary.outs, bigger)).toMatchObject({
      changes: true,
      replaces: [],
    });
    await endpointProvider.update!(primary.id, primary.outs, bigger);
    const retention = projectInputs({ history_retention_seconds: 604800 });
    expect(await projectProvider.diff!(id, outs, retention)).toMatchObject({ changes: true, replaces: [] });
    await projectProvider.update!(id, outs, retention);
    const after = fake.snapshot()[0]!;
    expect(after.history_retention_seconds).toBe(604800);
    expect(after.endpoints[0]).toMatchObject({ autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 4 });

    // Delete as Pulumi would: dependents first.
    await databaseProvider.delete!(db.id, db.outs);
    for (const w of [...workers, migrator]) await roleProvider.delete!(w.id, w.outs);
    await endpointProvider.delete!(replica.id, replica.outs);
    await endpointProvider.delete!(primary.id, primary.outs);
    await projectProvider.delete!(id, outs);

    expect(fake.snapshot()).toEqual([]);
    expect(fake.writesDuringOperations).toEqual([]);
    // Each write was issued once: nothing was refused, nothing doubled.
    expect(fake.requests.filter((r) => r.status === 423)).toEqual([]);
    expect(fake.calls("POST", /^\/projects$/)).toHaveLength(1);
    expect(fake.calls("POST", /\/endpoints$/)).toHaveLength(1);
  });

  test("a preview branch of dev's project: expires_at set, the inherited database handed to the preview's owner, dev untouched", async () => {
    const dev = fake.seedProject("mauntic-dev", { databaseName: "mauntic", roleName: "mauntic_dev_migrator" });
    const devMain = [...dev.branches.values()][0]!;
    const expires = inHours(72);
    const inputs: BranchInputs = {
      project_id: dev.id,
      name: "mauntic-pr-42",
      parent_id: devMain.id,
      expires_at: expires,
    };
    expect((await branchProvider.check!({}, inputs)).failures).toEqual([]);

    const branch = await branchProvider.create(inputs);
    const on = { project_id: dev.id, branch_id: branch.id };
    const primary = await endpointProvider.create(
      endpointInputs(on, { name: "mauntic-pr-42-primary", autoscaling_limit_max_cu: 0.25 }),
    );
    const migrator = await roleProvider.create({ ...on, name: "mauntic_pr_42_migrator" });
    const db = await databaseProvider.create({ ...on, name: "mauntic", owner_name: "mauntic_pr_42_migrator" });

    let [p] = fake.snapshot();
    const pr = p!.branches.find((b) => b.name === "mauntic-pr-42")!;
    expect(pr).toMatchObject({ parent_id: devMain.id, expires_at: expires });
    expect(pr.databases).toEqual([{ name: "mauntic", owner: "mauntic_pr_42_migrator" }]);
    expect(p!.endpoints.filter((e) => e.branch_id === branch.id).map((e) => e.type)).toEqual(["read_write"]);

    // A new deploy moves expires_at: an update, not a new branch.
    const later = { ...inputs, expires_at: inHours(96) };
    expect(await branchProvider.diff!(branch.id, branch.outs, later)).toMatchObject({ changes: true, replaces: [] });
    await branchProvider.update!(branch.id, branch.outs, later);
    expect(fake.snapshot()[0]!.branches.find((b) => b.id === branch.id)!.expires_at).toBe(later.expires_at);

    await databaseProvider.delete!(db.id, db.outs);
    await roleProvider.delete!(migrator.id, migrator.outs);
    await endpointProvider.delete!(primary.id, primary.outs);
    await branchProvider.delete!(branch.id, branch.outs);

    [p] = fake.snapshot();
    expect(p!.branches.map((b) => b.name)).toEqual(["main"]);
    expect(p!.branches[0]!.databases).toEqual([{ name: "mauntic", owner: "mauntic_dev_migrator" }]);
    expect(p!.endpoints.map((e) => e.branch_id)).toEqual([devMain.id]);
    expect(fake.writesDuringOperations).toEqual([]);
  });
});

describe("diff: update or replace", () => {
  const on = { project_id: "prj-1", branch_id: "br-1" };

  test("a role rename is a replacement; the same name is no change", async () => {
    const olds = { ...on, name: "mauntic_dev_crm", password: "x" };
    expect(await roleProvider.diff!("id", olds, { ...on, name: "mauntic_dev_crm2" })).toMatchObject({
      changes: true,
      replaces: ["name"],
    });
    expect(await roleProvider.diff!("id", olds, { ...on, name: "mauntic_dev_crm" })).toMatchObject({ changes: false });
  });

  test("an endpoint's CU and suspend timeout are updates; its type is a replacement, deleting the read_write first", async () => {
    const olds = { ...endpointInputs(on), endpoint_id: "ep-1", host: "ep-1.us-east-2.aws.neon.tech" };
    expect(
      await endpointProvider.diff!(
        "ep-1",
        olds,
        endpointInputs(on, { autoscaling_limit_max_cu: 2, suspend_timeout_seconds: -1 }),
      ),
    ).toMatchObject({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(await endpointProvider.diff!("ep-1", olds, endpointInputs(on, { branch_id: "br-2" }))).toMatchObject({
      replaces: ["branch_id"],
      deleteBeforeReplace: true,
    });
    expect(
      await endpointProvider.diff!(
        "ep-1",
        { ...olds, type: "read_only" },
        endpointInputs(on, { type: "read_only", region_id: "aws-eu-central-1" }),
      ),
    ).toMatchObject({ replaces: ["region_id"], deleteBeforeReplace: false });
  });

  test("a project's region or Postgres version is a replacement; its seed branch names are ignored", async () => {
    const olds = { ...projectInputs(), project_id: "p", default_branch_id: "b", proxy_host: "h" };
    expect(await projectProvider.diff!("p", olds, projectInputs({ pg_version: 16 }))).toMatchObject({
      replaces: ["pg_version"],
    });
    expect(
      await projectProvider.diff!(
        "p",
        olds,
        projectInputs({ branch: { name: "x", role_name: "y", database_name: "z" } }),
      ),
    ).toMatchObject({ changes: false });
  });

  test("a database rename or new owner keeps the data (update); another branch replaces it", async () => {
    const olds = { ...on, name: "mauntic", owner_name: "a", database_id: 1 };
    expect(await databaseProvider.diff!("1", olds, { ...on, name: "mauntic2", owner_name: "b" })).toMatchObject({
      changes: true,
      replaces: [],
    });
    expect(
      await databaseProvider.diff!("1", olds, { ...on, branch_id: "br-2", name: "mauntic", owner_name: "a" }),
    ).toMatchObject({ replaces: ["branch_id"] });
  });

  test("check refuses an expiry beyond Neon's 30 days and a max CU below the min", async () => {
    const far = inHours(31 * 24);
    const branch = await branchProvider.check!({}, { project_id: "p", name: "b", expires_at: far });
    expect(branch.failures).toEqual([{ property: "expires_at", reason: expect.stringContaining("at most 30 days") }]);
    const ep = await endpointProvider.check!(
      {},
      endpointInputs(on, { autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 1 }),
    );
    expect(ep.failures).toEqual([{ property: "autoscaling_limit_max_cu", reason: "1 CU (allowed: >= 2)" }]);
  });
});

describe("faults", () => {
  test("423 while an operation of Neon's own runs: the write waits it out and lands once", async () => {
    const { on } = await createProject();
    fake.inject({ method: "POST", path: /\/roles$/, fault: { kind: "backgroundOperation", ms: 120 } });
    const role = await roleProvider.create({ ...on, name: "mauntic_dev_crm" });
    const posts = fake.calls("POST", /\/roles$/);
    expect(posts[0]!.status).toBe(423);
    expect(posts.at(-1)!.status).toBe(201);
    expect(only(fake.snapshot()[0]!.branches).roles).toContain(role.outs.name);
    // Only Neon's own operation was running when the 423s came: none of ours.
    expect(fake.writesDuringOperations).toEqual([]);
  });

  test("429 with Retry-After and 503 are retried until they pass", async () => {
    const { on } = await createProject();
    fake.inject({ method: "POST", path: /\/endpoints$/, fault: { kind: "status", status: 429, retryAfterSeconds: 0 } });
    fake.inject({ method: "POST", path: /\/endpoints$/, times: 2, fault: { kind: "status", status: 503 } });
    const replica = await endpointProvider.create(
      endpointInputs(on, { type: "read_only", name: "mauntic-dev-replica" }),
    );
    expect(fake.calls("POST", /\/endpoints$/).map((r) => r.status)).toEqual([429, 503, 503, 201]);
    expect(fake.snapshot()[0]!.endpoints.filter((e) => e.id === replica.id)).toHaveLength(1);
  });

  test("a dropped connection: a GET is retried; a create is looked up by name, not sent twice", async () => {
    const { on } = await createProject();
    fake.inject({ method: "GET", path: /\/roles\/mauntic_dev_crm$/, fault: { kind: "drop" } });
    fake.inject({ method: "POST", path: /\/roles$/, fault: { kind: "dropAfterCommit" } });
    const role = await roleProvider.create({ ...on, name: "mauntic_dev_crm" });
    expect(fake.calls("POST", /\/roles$/)).toHaveLength(1);
    // The answer with the password was lost: the adopted role gets a new one, which Neon and the output share.
    expect(fake.calls("POST", /\/reset_password$/)).toHaveLength(1);
    const live = fake.projects.get(on.project_id)!.roles.get(on.branch_id)!.get("mauntic_dev_crm")!;
    expect(role.outs.password).toBe(live.password);
    expect(fake.writesDuringOperations).toEqual([]);
  });

  test("a create that times out but succeeds at Neon: no duplicate, and its operation is awaited before the next write", async () => {
    fake.operationMs = 150;
    fake.inject({ method: "POST", path: /^\/projects$/, fault: { kind: "answerLate", ms: 1_000 } });
    const { on } = await createProject();
    fake.inject({ method: "POST", path: /\/endpoints$/, fault: { kind: "answerLate", ms: 1_000 } });
    const replica = await endpointProvider.create(
      endpointInputs(on, { type: "read_only", name: "mauntic-dev-replica" }),
    );
    await roleProvider.create({ ...on, name: "mauntic_dev_crm" });

    const [p, ...others] = fake.snapshot();
    expect(others).toEqual([]);
    expect(p!.endpoints.filter((e) => e.type === "read_only").map((e) => e.id)).toEqual([replica.id]);
    expect(fake.calls("POST", /^\/projects$/)).toHaveLength(1);
    expect(fake.calls("POST", /\/endpoints$/)).toHaveLength(1);
    expect(fake.writesDuringOperations).toEqual([]);
  });

  test("a create whose operation fails is rolled back: nothing leaks, and the error names the operation", async () => {
    const { on } = await createProject();
    fake.inject({
      method: "POST",
      path: /\/endpoints$/,
      fault: { kind: "failOperations", error: "compute quota exceeded" },
    });
    const err = await endpointProvider
      .create(endpointInputs(on, { type: "read_only", name: "mauntic-dev-replica" }))
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("NeonOperationError");
    expect((err as Error).message).toMatch(
      /create read_only endpoint mauntic-dev-replica: operation start_compute \([0-9a-f-]{36}\) failed: compute quota exceeded/,
    );
    expect(fake.snapshot()[0]!.endpoints.map((e) => e.type)).toEqual(["read_write"]);
    expect(fake.calls("DELETE", /\/endpoints\//)).toHaveLength(1);
  });

  test("slow operations: every write waits for the last one to finish", async () => {
    fake.operationMs = 120;
    const { on } = await createProject();
    await Promise.all(["a", "b", "c"].map((w) => roleProvider.create({ ...on, name: `mauntic_dev_${w}` })));
    await databaseProvider.create({ ...on, name: "events", owner_name: "mauntic_dev_a" });
    expect(fake.writesDuringOperations).toEqual([]);
    expect(fake.requests.filter((r) => r.status === 423)).toEqual([]);
    expect(fake.calls("GET", /\/operations\/[0-9a-f-]{36}$/).length).toBeGreaterThan(4);
    expect(only(fake.snapshot()[0]!.branches).roles).toHaveLength(4);
  });

  test("an operation that outlives the operation timeout fails the create, which is rolled back once Neon lets go", async () => {
    const { on } = await createProject();
    configureNeonClient({ baseUrl, apiKey: KEY, ...FAST, operationTimeoutMs: 100 });
    fake.inject({ method: "POST", path: /\/roles$/, fault: { kind: "slowOperations", ms: 400 } });
    const err = await roleProvider.create({ ...on, name: "mauntic_dev_crm" }).catch((e: Error) => e);
    expect((err as Error).name).toBe("NeonOperationError");
    expect((err as Error).message).toMatch(
      /create role mauntic_dev_crm: operation apply_config \([0-9a-f-]{36}\) still (scheduling|running)/,
    );
    // The rollback's delete met 423 until the operation ended, then removed the role.
    const deletes = fake.calls("DELETE", /\/roles\/mauntic_dev_crm$/);
    expect(deletes[0]!.status).toBe(423);
    expect(deletes.at(-1)!.status).toBe(200);
    expect(only(fake.snapshot()[0]!.branches).roles).toEqual(["mauntic_dev_migrator"]);
  });

  test("a slow answer inside the request timeout is simply awaited", async () => {
    const { on } = await createProject();
    fake.inject({ method: "POST", path: /\/roles$/, fault: { kind: "slow", ms: 150 } });
    await roleProvider.create({ ...on, name: "mauntic_dev_crm" });
    expect(fake.calls("POST", /\/roles$/).map((r) => r.status)).toEqual([201]);
  });

  test("retries stop at the retry budget with Neon's message and request id", async () => {
    configureNeonClient({ baseUrl, apiKey: KEY, ...FAST, retryBudgetMs: 150 });
    const { on } = await createProject();
    fake.inject({
      method: "PATCH",
      path: /\/endpoints\//,
      times: 1_000,
      fault: { kind: "status", status: 503, message: "control plane is restarting" },
    });
    const [rw] = fake.snapshot()[0]!.endpoints;
    const olds = { ...endpointInputs(on), endpoint_id: rw!.id, host: "h" };
    const err = await endpointProvider.update!(rw!.id, olds, endpointInputs(on, { autoscaling_limit_max_cu: 2 })).catch(
      (e) => e,
    );
    expect(isNeonApiError(err)).toBe(true);
    const sent = fake.calls("PATCH", /\/endpoints\//);
    expect(sent.length).toBeGreaterThan(1);
    expect(err.status).toBe(503);
    expect(err.attempts).toBe(sent.length);
    expect(err.message).toContain("control plane is restarting");
    expect(err.message).toContain(`request id ${sent.at(-1)!.requestId}`);
  });

  test("a 4xx is not retried and carries Neon's message", async () => {
    const { on } = await createProject();
    const err = await databaseProvider.create({ ...on, name: "events", owner_name: "nobody" }).catch((e) => e);
    expect(isNeonApiError(err)).toBe(true);
    expect(err.message).toMatch(
      /create database events failed: HTTP 400: role nobody does not exist \(request id [0-9a-f-]{36}\)/,
    );
    expect(fake.calls("POST", /\/databases$/)).toHaveLength(1);
    expect(only(fake.snapshot()[0]!.branches).databases.map((d) => d.name)).toEqual(["mauntic"]);
  });

  test("read of a resource deleted outside Pulumi answers nothing, so a refresh drops it", async () => {
    const { on } = await createProject();
    const role = await roleProvider.create({ ...on, name: "mauntic_dev_crm" });
    fake.projects.get(on.project_id)!.roles.get(on.branch_id)!.delete("mauntic_dev_crm");
    expect(await roleProvider.read!(role.id, role.outs)).toEqual({});
    // ... and deleting what is already gone succeeds.
    await roleProvider.delete!(role.id, role.outs);
  });
});

describe("the API key", () => {
  test("is sent as a bearer token and never shows in errors, their JSON or a logged client", async () => {
    const { on } = await createProject();
    expect(new Set(fake.requests.map((r) => r.authorization))).toEqual(new Set([`Bearer ${KEY}`]));
    fake.inject({ method: "POST", path: /\/roles$/, fault: { kind: "status", status: 400, message: "bad role" } });
    fake.inject({ method: "GET", path: /\/roles\//, times: 1_000, fault: { kind: "drop" } });
    configureNeonClient({ baseUrl, apiKey: KEY, ...FAST, retryBudgetMs: 50 });
    const errors = [
      await roleProvider.create({ ...on, name: "x" }).catch((e) => e),
      await roleProvider.read!("id", { ...on, name: "y", password: "p" }).catch((e) => e),
    ];
    for (const e of errors) {
      expect(isNeonApiError(e)).toBe(true);
      for (const text of [String(e), e.stack, JSON.stringify(e), util.inspect(e, { depth: 10, showHidden: false })]) {
        expect(text).not.toContain(KEY);
      }
    }
    const client = neonClient();
    expect(util.inspect(client, { depth: 10 })).not.toContain(KEY);
    expect(JSON.stringify(client)).not.toContain(KEY);
  });

  test("comes from the stack config key through configure, else NEON_API_KEY, else a named error", async () => {
    configureNeonClient({ baseUrl, ...FAST });
    const saved = process.env.NEON_API_KEY;
    try {
      delete process.env.NEON_API_KEY;
      const missing = await projectProvider.create(projectInputs()).catch((e: Error) => e);
      expect((missing as Error).message).toBe(
        "no Neon API key: set NEON_API_KEY, or run `pulumi config set --secret mauntic-infra:neonApiKey <key>` (allowed: either one)",
      );

      process.env.NEON_API_KEY = KEY;
      await projectProvider.create(projectInputs({ name: "from-env" }));

      process.env.NEON_API_KEY = "wrong-key";
      await projectProvider.configure!({
        config: { get: (k) => (k === "mauntic-infra:neonApiKey" ? KEY : undefined), require: () => "" },
      });
      await projectProvider.create(projectInputs({ name: "from-config" }));
    } finally {
      if (saved === undefined) delete process.env.NEON_API_KEY;
      else process.env.NEON_API_KEY = saved;
    }
    expect(fake.snapshot().map((p) => p.name)).toEqual(["from-env", "from-config"]);
    expect(fake.requests.filter((r) => r.status === 401)).toEqual([]);
  });
});
