/**
 * Every Neon resource type driven the way the Pulumi engine drives it (test/helpers/engine-lifecycle.ts), against
 * the fake Neon API held to Neon's OpenAPI document: previews with unknown ids, a second up with nothing changed,
 * replacements in the engine's order, refresh after an outside delete or an expiry, deploy and destroy after.
 * Inputs are wired the way infra/neon/component.ts wires them (children take the project's or branch's outputs).
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  branchProvider,
  EXPIRY_SLACK_SECONDS,
  databaseProvider,
  endpointProvider,
  projectProvider,
  roleProvider,
  type BranchInputs,
  type DatabaseInputs,
  type EndpointInputs,
  type ProjectInputs,
  type RoleInputs,
} from "../infra/neon/providers";
import type { FakeNeon } from "./fakes/neon";
import { endpointInputs, projectInputs } from "./fixtures/neon-inputs";
import { EngineLifecycle, UNKNOWN, type EngineLifecycleOptions } from "./helpers/engine-lifecycle";
import { startFakeNeon, stopFakeNeon } from "./helpers/fake-neon";

const KEY = "neon-lifecycle-key";
let fake: FakeNeon;

beforeEach(async () => {
  fake = await startFakeNeon(KEY);
});

afterEach(() => stopFakeNeon(fake));

// The declared outputs of each resource class in infra/neon/resources.ts (unknown to dependents in a preview).
const project = (o: EngineLifecycleOptions = {}) =>
  new EngineLifecycle<ProjectInputs>(projectProvider, {
    name: "project",
    outputs: ["project_id", "default_branch_id", "proxy_host"],
    ...o,
  });
const branch = (o: EngineLifecycleOptions = {}) =>
  new EngineLifecycle<BranchInputs>(branchProvider, {
    name: "branch",
    outputs: ["branch_id"],
    ...o,
  });
const endpoint = (o: EngineLifecycleOptions = {}) =>
  new EngineLifecycle<EndpointInputs>(endpointProvider, {
    name: "endpoint",
    outputs: ["endpoint_id", "host"],
    ...o,
  });
const role = (o: EngineLifecycleOptions = {}) =>
  new EngineLifecycle<RoleInputs>(roleProvider, { name: "role", outputs: ["password"], ...o });
const database = (o: EngineLifecycleOptions = {}) =>
  new EngineLifecycle<DatabaseInputs>(databaseProvider, {
    name: "database",
    outputs: ["database_id"],
    ...o,
  });

type On = { project_id: string; branch_id: string };
const onProject = (outs: Record<string, unknown>): On => ({
  project_id: String(outs.project_id),
  branch_id: String(outs.default_branch_id),
});
/** Dev's and prod's default branch, as component.ts declares it on its project's id. */
const mainBranch = (projectId: string): BranchInputs => ({ project_id: projectId, name: "main", default: true });
const prodProject = () =>
  projectInputs({
    name: "mauntic-prod",
    branch: { name: "main", role_name: "mauntic_prod_migrator", database_name: "mauntic" },
  });
/** Requests that write (anything but GET), so a test can see that nothing was written. */
const writeRequests = () => fake.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);
const onBranch = (projectId: string, outs: Record<string, unknown>): On => ({
  project_id: projectId,
  branch_id: String(outs.branch_id),
});

/** `expires_at` `hours` after the fake's clock, RFC 3339 to the second. */
const expiresIn = (hours: number) => new Date(fake.now() + hours * 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A stack's Neon children, as component.ts declares them. */
function children(opts: EngineLifecycleOptions = {}, stack = "dev") {
  const s = stack.replace(/-/g, "_");
  const h = {
    primary: endpoint(opts),
    replica: endpoint(opts),
    migrator: role(opts),
    worker: role(opts),
    database: database(opts),
  };
  const inputs = (on: On) => ({
    primary: endpointInputs(on, { name: `mauntic-${stack}-primary` }),
    replica: endpointInputs(on, { type: "read_only", name: `mauntic-${stack}-replica` }),
    migrator: { ...on, name: `mauntic_${s}_migrator` },
    worker: { ...on, name: `mauntic_${s}_crm` },
    database: { ...on, name: "mauntic", owner_name: `mauntic_${s}_migrator` },
  });
  const order = ["primary", "replica", "migrator", "worker", "database"] as const;
  return {
    h,
    async up(on: On, deferDelete = false) {
      const i = inputs(on);
      const ops: Record<string, string> = {};
      for (const k of order) ops[k] = (await h[k].up(i[k] as never, { deferDelete })).op;
      return ops;
    },
    async preview(on: On) {
      const i = inputs(on);
      const ops: Record<string, { op: string; replaces: string[] }> = {};
      for (const k of order) {
        const r = await h[k].preview(i[k] as never);
        ops[k] = { op: r.op, replaces: r.diff?.replaces ?? [] };
      }
      return ops;
    },
    /** The end of the deployment: old resources of create-before-delete replacements, dependents first. */
    async deletePending() {
      for (const k of [...order].reverse()) await h[k].deletePending();
    },
    async refresh() {
      const gone: Record<string, boolean> = {};
      for (const k of order) gone[k] = (await h[k].refresh()).gone;
      return gone;
    },
    async destroy() {
      for (const k of [...order].reverse()) await h[k].destroy();
    },
    writes: () => order.flatMap((k) => h[k].calls.filter((c) => !["check", "diff", "read"].includes(c))),
  };
}

const writesOf = (h: EngineLifecycle<never> | EngineLifecycle<Record<string, unknown>>) =>
  h.calls.filter((c) => !["check", "diff", "read"].includes(c));

describe("Project (dev and prod)", () => {
  test("create, a second up with nothing changed writes nothing, destroy removes it", async () => {
    const p = project();
    const kids = children();
    // The first preview: the project's ids are unknown, every check takes them, nothing is written.
    const planned = await p.preview(projectInputs());
    expect(planned).toMatchObject({ op: "create", outs: { project_id: UNKNOWN, default_branch_id: UNKNOWN } });
    expect(Object.values(await kids.preview(onProject(planned.outs))).map((r) => r.op)).toEqual([
      "create",
      "create",
      "create",
      "create",
      "create",
    ]);
    expect(fake.requests).toEqual([]);
    const first = await p.up(projectInputs());
    expect(first.op).toBe("create");
    expect(await kids.up(onProject(first.outs))).toEqual({
      primary: "create",
      replica: "create",
      migrator: "create",
      worker: "create",
      database: "create",
    });
    const before = fake.requests.filter((r) => r.method !== "GET").length;

    expect((await p.up(projectInputs())).op).toBe("same");
    const again = await kids.up(onProject(p.state!.outs));
    expect(Object.values(again)).toEqual(["same", "same", "same", "same", "same"]);
    // No diff at all: not one write reached Neon.
    expect(fake.requests.filter((r) => r.method !== "GET").length).toBe(before);

    await kids.destroy();
    await p.destroy();
    expect(fake.snapshot()).toEqual([]);
  });

  test("prod: a history-retention change previews as an update of the project alone (every child the same); up writes the project only", async () => {
    // Wired as component.ts wires prod: the default branch on the project's id, the children on both ids.
    const prod = { protect: true, retainOnDelete: true };
    const p = project(prod);
    const main = branch(prod);
    const kids = children(prod, "prod");
    const inputs = prodProject();
    const created = await p.up(inputs);
    const b = await main.up(mainBranch(created.id));
    await kids.up({ project_id: created.id, branch_id: b.id });

    const changed = { ...inputs, history_retention_seconds: 604800 };
    const writesBefore = writeRequests();
    const preview = await p.preview(changed);
    expect(preview).toMatchObject({ op: "update", id: created.id, diff: { replaces: [] } });
    // The engine hands back only inputs for a dynamic resource's update: its outputs are unknown, its id is not.
    expect(preview.outs).toMatchObject({ project_id: UNKNOWN, default_branch_id: UNKNOWN });
    const branchPreview = await main.preview(mainBranch(preview.id));
    expect(branchPreview).toMatchObject({ op: "same", id: b.id });
    const kidsPreview = await kids.preview({ project_id: preview.id, branch_id: branchPreview.id });
    const plan = {
      project: preview.op,
      branch: branchPreview.op,
      ...Object.fromEntries(Object.entries(kidsPreview).map(([k, r]) => [k, r.op])),
    };
    expect(plan).toEqual({
      project: "update",
      branch: "same",
      primary: "same",
      replica: "same",
      migrator: "same",
      worker: "same",
      database: "same",
    });
    expect(writeRequests()).toEqual(writesBefore);

    // The up itself: the project is updated, every child is the same, nothing else is written.
    const up = await p.up(changed);
    expect(up).toMatchObject({ op: "update", id: created.id });
    const branchUp = await main.up(mainBranch(up.id));
    expect(branchUp).toMatchObject({ op: "same", id: b.id });
    expect(Object.values(await kids.up({ project_id: up.id, branch_id: branchUp.id }))).toEqual([
      "same",
      "same",
      "same",
      "same",
      "same",
    ]);
    expect(writeRequests()).toEqual([...writesBefore, `PATCH /projects/${created.id}`]);
    expect(fake.snapshot()[0]!.history_retention_seconds).toBe(604800);

    // prod's data outlives a destroy: the engine refuses protected resources.
    await expect(p.destroy()).rejects.toThrow(/protected/);
    await expect(main.destroy()).rejects.toThrow(/protected/);
  });

  test("through the project's outputs instead of its ids, the same change would preview every child as an update", async () => {
    // Why component.ts hands children ids: with the outputs unknown, nothing can be planned as "same".
    const p = project();
    const kids = children();
    await kids.up(onProject((await p.up(projectInputs())).outs));
    const preview = await p.preview(projectInputs({ history_retention_seconds: 3600 }));
    const viaOutputs = await kids.preview(onProject(preview.outs));
    for (const [name, r] of Object.entries(viaOutputs)) {
      // Unknown ids are "changes, decided at update time", never a planned replacement (protect would abort).
      expect({ name, ...r }).toEqual({ name, op: "update", replaces: [] });
    }
  });

  test("a Postgres version change replaces create-before-delete and leaves exactly one project, the new one", async () => {
    const p = project();
    const main = branch();
    const kids = children();
    const oldId = (await p.up(projectInputs())).id;
    const oldMain = (await main.up(mainBranch(oldId))).id;
    await kids.up({ project_id: oldId, branch_id: oldMain });

    const v16 = projectInputs({ pg_version: 16 });
    const preview = await p.preview(v16);
    expect(preview).toMatchObject({ op: "replace", id: UNKNOWN });
    // The new project's id is unknown: the default branch is "changes, decided at update time", not a replacement.
    expect(await main.preview(mainBranch(preview.id))).toMatchObject({ op: "update", diff: { replaces: [] } });
    // The deployment: the new project, its default branch (adopted), its children (replaced: their project
    // changed), then the deletes; the old default branch's is left to its project's.
    const up = await p.up(v16, { deferDelete: true });
    expect(up.op).toBe("replace");
    expect(up.id).not.toBe(oldId);
    const mainUp = await main.up(mainBranch(up.id), { deferDelete: true });
    expect(mainUp).toMatchObject({ op: "replace", diff: { replaces: ["project_id"], deleteBeforeReplace: false } });
    const kidsOps = await kids.up({ project_id: up.id, branch_id: mainUp.id }, true);
    expect(Object.values(kidsOps)).toEqual(["replace", "replace", "replace", "replace", "replace"]);
    await kids.deletePending();
    await main.deletePending();
    await p.deletePending();
    expect(fake.calls("POST", /\/branches$/)).toEqual([]);
    expect(fake.calls("DELETE", /\/branches\/[^/]+$/)).toEqual([]);

    const projects = fake.snapshot();
    expect(projects.map((x) => [x.id, x.name, x.pg_version])).toEqual([[up.id, "mauntic-dev", 16]]);
    const [live] = projects[0]!.branches;
    expect(live!.id).toBe(mainUp.id);
    expect(live!.roles).toEqual(["mauntic_dev_crm", "mauntic_dev_migrator"]);
    expect(live!.databases).toEqual([{ name: "mauntic", owner: "mauntic_dev_migrator" }]);
    expect(projects[0]!.endpoints.map((e) => e.type).sort()).toEqual(["read_only", "read_write"]);
    // The primary (delete-before-replace) adopted the new project's default compute; the replica is new.
    expect(kids.h.primary.state!.id).toBe(projects[0]!.endpoints.find((e) => e.type === "read_write")!.id);
  });

  test("refresh after the project was deleted outside Pulumi drops it; the next deploy recreates; destroy after a vanish succeeds", async () => {
    const p = project();
    await p.up(projectInputs());
    // Someone deletes it in the console.
    fake.projects.delete(p.state!.id);
    expect(await p.refresh()).toEqual({ gone: true });
    const again = await p.up(projectInputs());
    expect(again.op).toBe("create");
    expect(fake.snapshot().map((x) => x.id)).toEqual([again.id]);
    fake.projects.delete(again.id);
    await p.destroy();
    expect(p.state).toBeUndefined();
  });

  test("refresh reads what changed outside Pulumi, and the next up puts it back", async () => {
    const p = project();
    await p.up(projectInputs());
    const live = fake.projects.get(p.state!.id)!;
    live.history_retention_seconds = 3600;
    live.name = "renamed-in-console";
    expect(await p.refresh()).toEqual({ gone: false });
    expect(p.state!.outs).toMatchObject({ history_retention_seconds: 3600, name: "renamed-in-console" });
    expect((await p.up(projectInputs())).op).toBe("update");
    expect(fake.snapshot()[0]).toMatchObject({ name: "mauntic-dev", history_retention_seconds: 86400 });
  });
});

describe("Branch: dev's and prod's default branch", () => {
  test("adopted, never created: the branch Neon made with the project, named by its branch.name", async () => {
    const p = project();
    const main = branch();
    const kids = children();
    // First preview: the project's id is unknown, so is the branch's; nothing is written.
    const planned = await p.preview(projectInputs());
    const mainPlanned = await main.preview(mainBranch(planned.id));
    expect(mainPlanned).toMatchObject({ op: "create", id: UNKNOWN });
    expect(fake.requests).toEqual([]);

    const created = await p.up(projectInputs());
    const up = await main.up(mainBranch(created.id));
    const [live] = fake.snapshot()[0]!.branches;
    expect(up).toMatchObject({
      op: "create",
      id: live!.id,
      outs: { branch_id: live!.id, name: "main", default: true },
    });
    expect(live).toMatchObject({ name: "main", default: true });
    // The project's own outputs agree (what older stacks handed their children).
    expect(up.id).toBe(created.outs.default_branch_id);
    expect(fake.calls("POST", /\/branches$/)).toEqual([]);
    expect(writeRequests().filter((w) => w.includes("/branches/"))).toEqual([]);
    await kids.up({ project_id: created.id, branch_id: up.id });

    // A second up with nothing changed writes nothing.
    const writes = writeRequests();
    expect((await main.up(mainBranch(created.id))).op).toBe("same");
    expect(writeRequests()).toEqual(writes);

    // Destroy, dependents first: Neon refuses deleting a default branch, so its delete is the project's.
    main.calls.length = 0;
    await kids.destroy();
    await main.destroy();
    expect(main.calls).toEqual(["delete"]);
    expect(fake.calls("DELETE", /\/branches\/[^/]+$/)).toEqual([]);
    expect(fake.snapshot()[0]!.branches.map((b) => b.id)).toEqual([live!.id]);
    await p.destroy();
    expect(fake.snapshot()).toEqual([]);
  });

  test("a prod stack from before the Branch existed: the first deploy plans its create, replaces nothing, writes nothing", async () => {
    // State as older code left it: children on the project's outputs (the same values as its ids), no Branch.
    const prod = { protect: true, retainOnDelete: true };
    const p = project(prod);
    const kids = children(prod, "prod");
    const created = await p.up(prodProject());
    await kids.up(onProject(created.outs));
    const writes = writeRequests();

    const main = branch(prod);
    expect((await p.preview(prodProject())).op).toBe("same");
    const planned = await main.preview(mainBranch(created.id));
    expect(planned).toMatchObject({ op: "create", id: UNKNOWN });
    // The branch's id is unknown until it is created: children show updates decided at up time, never replacements.
    const kidsPlan = await kids.preview({ project_id: created.id, branch_id: planned.id });
    expect(Object.values(kidsPlan)).toEqual(Array(5).fill({ op: "update", replaces: [] }));

    expect((await p.up(prodProject())).op).toBe("same");
    const up = await main.up(mainBranch(created.id));
    expect(up).toMatchObject({ op: "create", id: created.outs.default_branch_id });
    expect(Object.values(await kids.up({ project_id: created.id, branch_id: up.id }))).toEqual(Array(5).fill("same"));
    expect(writeRequests()).toEqual(writes);
  });

  test("a default branch renamed outside Pulumi gets the declared name; expires_at or a parent is refused by check", async () => {
    const created = await project().up(projectInputs());
    fake.projects.get(created.id)!.branches.get(String(created.outs.default_branch_id))!.name = "production";
    const main = branch();
    const up = await main.up(mainBranch(created.id));
    expect(up.id).toBe(created.outs.default_branch_id);
    expect(fake.snapshot()[0]!.branches.map((b) => [b.name, b.default, b.expires_at])).toEqual([
      ["main", true, undefined],
    ]);
    // The rename sends no expires_at (Neon refuses one on a default branch).
    expect(fake.calls("PATCH", /\/branches\//).map((r) => r.body)).toEqual([{ branch: { name: "main" } }]);

    for (const bad of [{ expires_at: expiresIn(24) }, { parent_id: up.id }]) {
      await expect(branch().preview({ ...mainBranch(created.id), ...bad })).rejects.toThrow(
        /is set on the project's default branch \(allowed: unset; Neon refuses it\)/,
      );
    }
  });

  test("refresh after the project was deleted drops it; destroy after a vanish succeeds", async () => {
    const p = project();
    const created = await p.up(projectInputs());
    const main = branch();
    await main.up(mainBranch(created.id));
    fake.projects.delete(created.id);
    expect(await main.refresh()).toEqual({ gone: true });
    await main.destroy();
    expect(main.state).toBeUndefined();
  });
});

describe("Branch (preview stacks)", () => {
  async function devProject() {
    const dev = fake.seedProject("mauntic-dev", { databaseName: "mauntic", roleName: "mauntic_dev_migrator" });
    return { id: dev.id, main: [...dev.branches.values()][0]!.id };
  }
  const prInputs = (dev: { id: string; main: string }, over: Partial<BranchInputs> = {}): BranchInputs => ({
    project_id: dev.id,
    name: "mauntic-pr-42",
    parent_id: dev.main,
    expires_at: expiresIn(72),
    ...over,
  });

  test("a redeploy moves expires_at: the preview shows an update of the branch alone; then nothing changed writes nothing", async () => {
    const dev = await devProject();
    const b = branch();
    const kids = children({}, "pr-42");
    const created = await b.up(prInputs(dev));
    await kids.up(onBranch(dev.id, created.outs));

    const moved = prInputs(dev, { expires_at: expiresIn(96) });
    const preview = await b.preview(moved);
    expect(preview.op).toBe("update");
    // The branch_id output is unknown in this preview, its id is not: component.ts hands children the id.
    expect(preview).toMatchObject({ id: created.id, outs: { branch_id: UNKNOWN } });
    const kidsPreview = await kids.preview({ project_id: dev.id, branch_id: preview.id });
    expect(Object.values(kidsPreview).map((r) => r.op)).toEqual(["same", "same", "same", "same", "same"]);
    // Through the output instead, they would show as updates (still never replacements).
    const viaOutput = await kids.preview(onBranch(dev.id, preview.outs));
    expect(Object.values(viaOutput).every((r) => r.op === "update" && r.replaces.length === 0)).toBe(true);

    const up = await b.up(moved);
    expect(up.op).toBe("update");
    expect(Object.values(await kids.up(onBranch(dev.id, up.outs)))).toEqual(["same", "same", "same", "same", "same"]);
    expect(fake.snapshot()[0]!.branches.find((x) => x.name === "mauntic-pr-42")!.expires_at).toBe(moved.expires_at);
    const writes = writesOf(b as never).length;
    expect((await b.up(moved)).op).toBe("same");
    expect(writesOf(b as never)).toHaveLength(writes);
  });

  test("a redeploy within the hour keeps the expiry Neon holds (a second up changes nothing); an hour later, or earlier, updates it", async () => {
    const dev = await devProject();
    const b = branch();
    const first = prInputs(dev);
    await b.up(first);
    const at = (secondsLater: number) =>
      new Date(Date.parse(first.expires_at!) + secondsLater * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    expect((await b.preview(prInputs(dev, { expires_at: at(EXPIRY_SLACK_SECONDS - 1) }))).op).toBe("same");
    expect((await b.preview(prInputs(dev, { expires_at: at(EXPIRY_SLACK_SECONDS) }))).op).toBe("update");
    expect((await b.preview(prInputs(dev, { expires_at: at(-1) }))).op).toBe("update");
  });

  test("a new parent replaces it delete-before-create (names are unique): exactly one branch of that name, the new one", async () => {
    const dev = await devProject();
    const other = (await branchProvider.create({ project_id: dev.id, name: "staging" })).id;
    const b = branch();
    const old = await b.up(prInputs(dev));
    const preview = await b.preview(prInputs(dev, { parent_id: other }));
    expect(preview).toMatchObject({ op: "replace", diff: { replaces: ["parent_id"], deleteBeforeReplace: true } });
    b.calls.length = 0;
    const up = await b.up(prInputs(dev, { parent_id: other }));
    expect(b.calls).toEqual(["check", "diff", "check", "delete", "create"]);
    const named = fake.snapshot()[0]!.branches.filter((x) => x.name === "mauntic-pr-42");
    expect(named.map((x) => [x.id, x.parent_id])).toEqual([[up.id, other]]);
    expect(up.id).not.toBe(old.id);
  });

  test("expired: Neon deleted it with its compute, roles and database; refresh drops all, the next deploy recreates all", async () => {
    const dev = await devProject();
    const b = branch();
    const kids = children({}, "pr-42");
    kids.h.replica = endpoint(); // previews have no replica: keep the wiring, create it like the rest
    await kids.up(onBranch(dev.id, (await b.up(prInputs(dev))).outs));

    fake.advance(73 * 3600_000);
    expect(fake.snapshot()[0]!.branches.map((x) => x.name)).toEqual(["main"]);
    expect(fake.expired.map((x) => x.name)).toEqual(["mauntic-pr-42"]);

    // Without a refresh the deploy patches a branch Neon no longer has: the error says what to run.
    await expect(b.up(prInputs(dev))).rejects.toThrow(/no longer exists in Neon.*pulumi up --refresh/);

    // `pulumi up --refresh`: every resource read back as gone, then created again on a new branch.
    expect(await b.refresh()).toEqual({ gone: true });
    expect(Object.values(await kids.refresh())).toEqual([true, true, true, true, true]);
    const again = await b.up(prInputs(dev));
    expect(again.op).toBe("create");
    expect(Object.values(await kids.up(onBranch(dev.id, again.outs)))).toEqual([
      "create",
      "create",
      "create",
      "create",
      "create",
    ]);
    const pr = fake.snapshot()[0]!.branches.find((x) => x.name === "mauntic-pr-42")!;
    expect(pr.id).toBe(again.id);
    expect(pr.roles).toEqual(["mauntic_dev_migrator", "mauntic_pr_42_crm", "mauntic_pr_42_migrator"]);
    expect(pr.databases).toEqual([{ name: "mauntic", owner: "mauntic_pr_42_migrator" }]);

    // And a destroy after the next expiry succeeds, child by child.
    fake.advance(73 * 3600_000);
    await kids.destroy();
    await b.destroy();
    expect(fake.snapshot()[0]!.branches.map((x) => x.name)).toEqual(["main"]);
  });

  test("refresh reads an expires_at changed or cleared outside Pulumi; the next up sets it again", async () => {
    const dev = await devProject();
    const b = branch();
    const inputs = prInputs(dev);
    await b.up(inputs);
    const live = fake.projects.get(dev.id)!.branches.get(b.state!.id)!;
    delete live.expires_at;
    await b.refresh();
    expect(b.state!.outs.expires_at).toBeUndefined();
    expect((await b.up(inputs)).op).toBe("update");
    expect(live.expires_at).toBe(inputs.expires_at);
  });
});

describe("Endpoint", () => {
  test("read_write: adopts the project's default compute, updates in place, a new branch replaces it delete-first", async () => {
    const p = project();
    const on = onProject((await p.up(projectInputs())).outs);
    const e = endpoint();
    const created = await e.up(endpointInputs(on));
    const defaultCompute = fake.snapshot()[0]!.endpoints.find((x) => x.type === "read_write")!;
    expect(created.id).toBe(defaultCompute.id);

    expect((await e.up(endpointInputs(on, { autoscaling_limit_max_cu: 2 }))).op).toBe("update");
    expect(fake.snapshot()[0]!.endpoints[0]).toMatchObject({ autoscaling_limit_max_cu: 2 });

    // A preview with the branch id unknown (its branch previews an update) plans no replacement.
    const unknown = await e.preview(endpointInputs({ ...on, branch_id: UNKNOWN }, { autoscaling_limit_max_cu: 2 }));
    expect(unknown).toMatchObject({ op: "update", diff: { replaces: [] } });

    const other = (await branchProvider.create({ project_id: on.project_id, name: "staging" })).id;
    const moved = endpointInputs({ ...on, branch_id: other }, { autoscaling_limit_max_cu: 2 });
    expect(await e.preview(moved)).toMatchObject({ op: "replace", diff: { deleteBeforeReplace: true } });
    e.calls.length = 0;
    const up = await e.up(moved);
    expect(e.calls).toEqual(["check", "diff", "check", "delete", "create"]);
    const rw = fake.snapshot()[0]!.endpoints.filter((x) => x.type === "read_write");
    expect(rw.map((x) => [x.id, x.branch_id])).toEqual([[up.id, other]]);
  });

  test("read_only: a new branch replaces it create-before-delete, leaving exactly one replica, the new one", async () => {
    const p = project();
    const on = onProject((await p.up(projectInputs())).outs);
    const e = endpoint();
    const replica = (o: On) => endpointInputs(o, { type: "read_only", name: "mauntic-dev-replica" });
    const old = await e.up(replica(on));
    const other = (await branchProvider.create({ project_id: on.project_id, name: "staging" })).id;
    e.calls.length = 0;
    const up = await e.up(replica({ ...on, branch_id: other }));
    expect(up.op).toBe("replace");
    expect(e.calls).toEqual(["check", "diff", "check", "create", "delete"]);
    const ro = fake.snapshot()[0]!.endpoints.filter((x) => x.type === "read_only");
    expect(ro.map((x) => [x.id, x.branch_id])).toEqual([[up.id, other]]);
    expect(up.id).not.toBe(old.id);
  });

  test("refresh reads a size changed outside Pulumi, drops a deleted replica; the next deploy recreates; destroy after a vanish", async () => {
    const p = project();
    const on = onProject((await p.up(projectInputs())).outs);
    const e = endpoint();
    const inputs = endpointInputs(on, { type: "read_only", name: "mauntic-dev-replica" });
    await e.up(inputs);
    const live = fake.projects.get(on.project_id)!.endpoints.get(e.state!.id)!;
    live.autoscaling_limit_max_cu = 4;
    await e.refresh();
    expect(e.state!.outs).toMatchObject({ autoscaling_limit_max_cu: 4, host: `${live.id}.us-east-2.aws.neon.tech` });
    expect((await e.up(inputs)).op).toBe("update");
    expect(live.autoscaling_limit_max_cu).toBe(1);

    fake.projects.get(on.project_id)!.endpoints.delete(live.id);
    expect(await e.refresh()).toEqual({ gone: true });
    const again = await e.up(inputs);
    expect(again.op).toBe("create");
    fake.projects.get(on.project_id)!.endpoints.delete(again.id);
    await e.destroy();
    expect(fake.snapshot()[0]!.endpoints.map((x) => x.type)).toEqual(["read_write"]);
  });
});

describe("Role", () => {
  test("a new name replaces it create-before-delete: exactly one role, the new one; outside delete, refresh, recreate, destroy", async () => {
    const p = project();
    const on = onProject((await p.up(projectInputs())).outs);
    const r = role();
    await r.up({ ...on, name: "mauntic_dev_crm" });
    expect((await r.up({ ...on, name: "mauntic_dev_crm" })).op).toBe("same");
    expect((await r.preview({ ...on, branch_id: UNKNOWN, name: "mauntic_dev_crm" })).diff!.replaces).toEqual([]);

    r.calls.length = 0;
    const up = await r.up({ ...on, name: "mauntic_dev_contacts" });
    expect(up.op).toBe("replace");
    expect(r.calls).toEqual(["check", "diff", "check", "create", "delete"]);
    const roles = () => fake.snapshot()[0]!.branches[0]!.roles;
    expect(roles()).toEqual(["mauntic_dev_contacts", "mauntic_dev_migrator"]);
    expect(up.outs.password).toBe(
      fake.projects.get(on.project_id)!.roles.get(on.branch_id)!.get("mauntic_dev_contacts")!.password,
    );

    fake.projects.get(on.project_id)!.roles.get(on.branch_id)!.delete("mauntic_dev_contacts");
    expect(await r.refresh()).toEqual({ gone: true });
    expect((await r.up({ ...on, name: "mauntic_dev_contacts" })).op).toBe("create");
    fake.projects.get(on.project_id)!.roles.get(on.branch_id)!.delete("mauntic_dev_contacts");
    await r.destroy();
    expect(roles()).toEqual(["mauntic_dev_migrator"]);
  });
});

describe("Database", () => {
  test("a rename is an update that keeps the database; a new owner too; refresh reads an owner changed outside", async () => {
    const p = project();
    const on = onProject((await p.up(projectInputs())).outs);
    await roleProvider.create({ ...on, name: "mauntic_dev_crm" });
    const d = database();
    const created = await d.up({ ...on, name: "mauntic", owner_name: "mauntic_dev_migrator" });
    const dbId = created.outs.database_id;

    const renamed = await d.up({ ...on, name: "platform", owner_name: "mauntic_dev_migrator" });
    expect(renamed).toMatchObject({ op: "update", outs: { name: "platform", database_id: dbId } });
    expect(fake.snapshot()[0]!.branches[0]!.databases).toEqual([{ name: "platform", owner: "mauntic_dev_migrator" }]);
    expect(fake.calls("PATCH", /\/databases\/mauntic$/)).toHaveLength(1);

    const owner = await d.up({ ...on, name: "platform", owner_name: "mauntic_dev_crm" });
    expect(owner.op).toBe("update");
    expect(fake.snapshot()[0]!.branches[0]!.databases).toEqual([{ name: "platform", owner: "mauntic_dev_crm" }]);

    fake.projects.get(on.project_id)!.databases.get(on.branch_id)!.get("platform")!.owner_name = "mauntic_dev_migrator";
    await d.refresh();
    expect(d.state!.outs).toMatchObject({ owner_name: "mauntic_dev_migrator", database_id: dbId });
    expect((await d.up({ ...on, name: "platform", owner_name: "mauntic_dev_crm" })).op).toBe("update");
  });

  test("a new branch replaces it; outside delete, refresh, recreate; destroy after a vanish", async () => {
    const p = project();
    const on = onProject((await p.up(projectInputs())).outs);
    const d = database();
    await d.up({ ...on, name: "events", owner_name: "mauntic_dev_migrator" });
    const other = (await branchProvider.create({ project_id: on.project_id, name: "staging" })).id;
    const up = await d.up({ ...on, branch_id: other, name: "events", owner_name: "mauntic_dev_migrator" });
    expect(up.op).toBe("replace");
    const dbs = (b: string) => [...fake.projects.get(on.project_id)!.databases.get(b)!.keys()].sort();
    expect(dbs(on.branch_id)).toEqual(["mauntic"]);
    expect(dbs(other)).toEqual(["events", "mauntic"]);

    fake.projects.get(on.project_id)!.databases.get(other)!.delete("events");
    expect(await d.refresh()).toEqual({ gone: true });
    expect((await d.up({ ...on, branch_id: other, name: "events", owner_name: "mauntic_dev_migrator" })).op).toBe(
      "create",
    );
    fake.projects.get(on.project_id)!.databases.get(other)!.delete("events");
    await d.destroy();
    expect(dbs(other)).toEqual(["mauntic"]);
  });
});
