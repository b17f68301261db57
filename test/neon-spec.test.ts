/**
 * The fake Neon API as Neon's spec and docs describe it, and the providers against what Neon does on its own:
 * requests and responses held to the OpenAPI document, operations through `error` and `cancelling`, expiry, the
 * value rules the spec cannot express (refused by `check` before any call where it can know them), exact look-ups
 * across pages, `unavailable_project_ids`, personal keys and `org_id`, deletes repeated after a lost answer.
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { configureNeonClient, neonClient } from "../infra/neon/client";
import { branchProvider, endpointProvider, projectProvider, roleProvider } from "../infra/neon/providers";
import type { FakeNeon } from "./fakes/neon";
import { endpointInputs, projectInputs } from "./fixtures/neon-inputs";
import { NEON_FAST_CLOCKS, startFakeNeon, stopFakeNeon } from "./helpers/fake-neon";

const KEY = "neon-spec-key";
const FAST = { ...NEON_FAST_CLOCKS, requestTimeoutMs: 2_000 };
let fake: FakeNeon;

beforeEach(async () => {
  fake = await startFakeNeon(KEY, FAST);
});

afterEach(() => stopFakeNeon(fake));

/** What a raw API call answered (the generated client throws axios errors on 4xx). */
async function answer(call: Promise<{ status: number; data: unknown }>) {
  try {
    const r = await call;
    return { status: r.status, data: r.data as Record<string, unknown> };
  } catch (e) {
    const r = (e as { response: { status: number; data: Record<string, unknown> } }).response;
    return { status: r.status, data: r.data };
  }
}

async function devProject() {
  const p = await projectProvider.create(projectInputs());
  return { id: p.id, main: String(p.outs.default_branch_id) };
}

describe("requests and responses are held to Neon's OpenAPI document", () => {
  test("a misspelt field, a wrong type and an unknown query parameter are refused with 400 and recorded", async () => {
    const { id } = await devProject();
    const api = neonClient().api;
    const typo = await answer(api.createProjectBranch(id, { branch: { nmae: "mauntic-pr-7" } } as never));
    expect(typo.status).toBe(400);
    expect(typo.data.message).toContain("body.branch.nmae is not a field of Neon's schema here");
    const wrongType = await answer(api.updateProject(id, { project: { history_retention_seconds: "1 day" } } as never));
    expect(wrongType.status).toBe(400);
    expect(wrongType.data.message).toMatch(/history_retention_seconds must be integer/);
    const query = await answer(api.listProjects({ serach: "mauntic" } as never));
    expect(query.status).toBe(400);
    expect(query.data.message).toContain("query parameter 'serach' is not in the spec");
    expect(fake.specViolations.map((v) => [v.direction, v.method, v.path])).toEqual([
      ["request", "POST", `/projects/${id}/branches`],
      ["request", "PATCH", `/projects/${id}`],
      ["request", "GET", "/projects"],
    ]);
    // Nothing was applied.
    expect(fake.snapshot()[0]!.branches.map((b) => b.name)).toEqual(["main"]);
    fake.specViolations.length = 0;
  });

  test("an answer the spec does not list is recorded as the fake's own violation", async () => {
    fake.inject({ method: "GET", path: /^\/projects$/, fault: { kind: "status", status: 299 } });
    await answer(neonClient().api.listProjects({}));
    expect(fake.specViolations).toEqual([
      expect.objectContaining({
        direction: "response",
        status: 299,
        problems: ["status 299 is not among the operation's responses"],
      }),
    ]);
    fake.specViolations.length = 0;
  });
});

describe("operations", () => {
  test("an operation in `error` is retried by Neon: the write waits through it and succeeds", async () => {
    const { id, main } = await devProject();
    fake.inject({
      method: "POST",
      path: /\/roles$/,
      fault: {
        kind: "operationPath",
        path: { steps: ["scheduling", "running", "error", "running"], final: "finished", error: "compute restarting" },
        ms: 200,
      },
    });
    const role = await roleProvider.create({ project_id: id, branch_id: main, name: "mauntic_dev_crm" });
    expect(role.outs.password).toMatch(/^npg_/);
    expect(fake.calls("GET", /\/operations\/[0-9a-f-]{36}$/).length).toBeGreaterThan(3);
  });

  test("a cancelled operation fails the create with Neon's reason, and the half-made role is rolled back", async () => {
    const { id, main } = await devProject();
    fake.inject({
      method: "POST",
      path: /\/roles$/,
      fault: {
        kind: "operationPath",
        path: { steps: ["scheduling", "cancelling"], final: "cancelled", error: "cancelled by a newer operation" },
      },
    });
    const err = await roleProvider.create({ project_id: id, branch_id: main, name: "mauntic_dev_crm" }).catch((e) => e);
    expect((err as Error).message).toMatch(/operation apply_config \([0-9a-f-]{36}\) cancelled/);
    expect(fake.snapshot()[0]!.branches[0]!.roles).toEqual(["mauntic_dev_migrator"]);
  });
});

describe("branches: expiry and Neon's branch rules", () => {
  test("Neon deletes a branch at expires_at: it answers 404 and leaves every list", async () => {
    const { id, main } = await devProject();
    const at = new Date(fake.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const b = await branchProvider.create({ project_id: id, name: "mauntic-pr-9", parent_id: main, expires_at: at });
    fake.advance(3600_000);
    expect(await branchProvider.read!(b.id, b.outs)).toEqual({});
    const list = await neonClient().api.listProjectBranches({ projectId: id });
    expect(list.data.branches.map((x) => x.name)).toEqual(["main"]);
    expect(fake.expired).toEqual([{ project_id: id, branch_id: b.id, name: "mauntic-pr-9" }]);
    // Deleting what expired succeeds (a destroy after the TTL).
    await branchProvider.delete!(b.id, b.outs);
  });

  test("expires_at is refused on the default branch, a protected branch and a parent branch", async () => {
    const { id, main } = await devProject();
    const api = neonClient().api;
    const at = new Date(fake.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const onDefault = await answer(api.updateProjectBranch(id, main, { branch: { expires_at: at } }));
    expect(onDefault).toMatchObject({
      status: 400,
      data: { message: "expires_at cannot be set on the default branch" },
    });

    const parent = await branchProvider.create({ project_id: id, name: "staging" });
    await branchProvider.create({ project_id: id, name: "staging-child", parent_id: parent.id });
    const onParent = await answer(api.updateProjectBranch(id, parent.id, { branch: { expires_at: at } }));
    expect(onParent.data.message).toBe("expires_at cannot be set on a branch that has child branches");
    // ... and a branch with children cannot be deleted: the provider's error carries Neon's reason.
    const del = await branchProvider.delete!(parent.id, parent.outs).catch((e: Error) => e);
    expect((del as Error).message).toMatch(/HTTP 400.*has child branches: delete them first/);

    const guarded = await branchProvider.create({ project_id: id, name: "release" });
    fake.protectBranch(id, guarded.id);
    const onProtected = await answer(api.updateProjectBranch(id, guarded.id, { branch: { expires_at: at } }));
    expect(onProtected.data.message).toBe("expires_at cannot be set on a protected branch");
  });

  test("branch names are unique in a project (409), and an exact name is never confused with a longer one", async () => {
    const { id, main } = await devProject();
    const pr40 = await branchProvider.create({ project_id: id, name: "mauntic-pr-40", parent_id: main });
    const pr4 = await branchProvider.create({ project_id: id, name: "mauntic-pr-4", parent_id: main });
    expect(pr4.id).not.toBe(pr40.id);
    const dup = await answer(neonClient().api.createProjectBranch(id, { branch: { name: "mauntic-pr-4" } }));
    expect(dup.status).toBe(409);
  });
});

describe("value rules", () => {
  test("check refuses Neon's compute and retention limits before any call", async () => {
    const bad = [
      await endpointProvider.check!(
        {},
        endpointInputs({ project_id: "p", branch_id: "b" }, { autoscaling_limit_max_cu: 0.75 }),
      ),
      await endpointProvider.check!(
        {},
        endpointInputs(
          { project_id: "p", branch_id: "b" },
          { autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 10 },
        ),
      ),
      await projectProvider.check!({}, projectInputs({ history_retention_seconds: 2_592_001 })),
    ];
    expect(bad.map((r) => r.failures)).toEqual([
      [
        {
          property: "autoscaling_limit_max_cu",
          reason: expect.stringMatching(/^0\.75 CU \(allowed: 0\.25, 0\.5, 1, 2, .*16\)$/),
        },
      ],
      [{ property: "autoscaling_limit_max_cu", reason: "10 CU is 9 CU above the minimum (allowed: max - min <= 8)" }],
      [{ property: "history_retention_seconds", reason: "2592001 (allowed: 0..2592000, 30 days)" }],
    ]);
    expect(fake.requests).toEqual([]);
  });

  test("what only Neon knows comes back with Neon's reason: a compute outside the project's region, retention past the plan", async () => {
    const { id, main } = await devProject();
    const elsewhere = await endpointProvider
      .create(
        endpointInputs(
          { project_id: id, branch_id: main },
          { type: "read_only", name: "r", region_id: "aws-eu-central-1" },
        ),
      )
      .catch((e: Error) => e);
    expect((elsewhere as Error).message).toMatch(
      /HTTP 400: region_id aws-eu-central-1 is not the project's region aws-us-east-2/,
    );

    fake.historyRetentionCapSeconds = 604800;
    const tooLong = await projectProvider
      .create(projectInputs({ name: "mauntic-prod", history_retention_seconds: 2_592_000 }))
      .catch((e: Error) => e);
    expect((tooLong as Error).message).toMatch(
      /HTTP 400: history_retention_seconds 2592000 exceeds your plan's limit of 604800/,
    );
    expect(fake.snapshot().map((p) => p.name)).toEqual(["mauntic-dev"]);
  });
});

describe("look-ups and lists", () => {
  test("a project is found by its exact name on a later page, and adopted instead of doubled", async () => {
    for (let i = 0; i < 401; i++) fake.seedProject(`mauntic-dev-x${i}`);
    const existing = fake.seedProject("mauntic-dev", { databaseName: "mauntic", roleName: "mauntic_dev_migrator" });
    const p = await projectProvider.create(projectInputs());
    expect(p.id).toBe(existing.id);
    expect(fake.calls("POST", /^\/projects$/)).toEqual([]);
    const pages = fake.calls("GET", /^\/projects$/);
    expect(pages.map((r) => r.query.cursor ?? null)).toEqual([null, expect.any(String)]);
  });

  test("a list with unavailable_project_ids is listed again until the project shows, never created twice", async () => {
    const existing = fake.seedProject("mauntic-dev", { databaseName: "mauntic", roleName: "mauntic_dev_migrator" });
    fake.makeUnavailable(existing.id, 2);
    const p = await projectProvider.create(projectInputs());
    expect(p.id).toBe(existing.id);
    expect(fake.calls("GET", /^\/projects$/)).toHaveLength(3);
    expect(fake.calls("POST", /^\/projects$/)).toEqual([]);

    // Still unavailable when the retry budget runs out: an error, never a second project.
    configureNeonClient({ baseUrl: fake.baseUrl!, apiKey: KEY, ...FAST, retryBudgetMs: 100 });
    fake.makeUnavailable(existing.id, 1_000);
    const err = await projectProvider.create(projectInputs()).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      new RegExp(
        `list projects named mauntic-dev failed: HTTP 200 unavailable_project_ids: Neon could not fetch projects ${existing.id} in time \\(request id n/a(, after \\d+ attempts)?\\)`,
      ),
    );
    expect(fake.calls("POST", /^\/projects$/)).toEqual([]);
  });

  test("a branch is found by its exact name on a later page of a search that also matches longer names", async () => {
    const { id, main } = await devProject();
    for (let i = 0; i < 101; i++)
      await neonClient()
        .api.createProjectBranch(id, { branch: { name: `mauntic-pr-4${i}` } })
        .then(() => fake.advance(1000));
    const pr4 = await branchProvider.create({ project_id: id, name: "mauntic-pr-4", parent_id: main });
    fake.advance(1000);
    const again = await branchProvider.create({ project_id: id, name: "mauntic-pr-4", parent_id: main });
    expect(again.id).toBe(pr4.id);
    expect(fake.calls("POST", /\/branches$/).filter((r) => r.status === 409)).toEqual([]);
  });
});

describe("personal API keys", () => {
  test("without org_id Neon answers 400 and the error says the key is personal and names neon.orgId; with it, it works", async () => {
    fake.orgId = "org-mauntic-4242";
    const err = await projectProvider.create(projectInputs()).catch((e: Error) => e);
    expect((err as Error).message).toContain(
      "HTTP 400: org_id is required: this API key is a personal API key, which must name the organization: set `neon.orgId` (org-...) in the stack config, or use an organization API key",
    );
    const p = await projectProvider.create(projectInputs({ org_id: "org-mauntic-4242" }));
    expect(fake.calls("GET", /^\/projects$/).at(-1)!.query.org_id).toBe("org-mauntic-4242");
    expect(fake.calls("POST", /^\/projects$/).at(-1)!.body).toMatchObject({ project: { org_id: "org-mauntic-4242" } });
    // A second create finds it in the organization instead of making another.
    expect((await projectProvider.create(projectInputs({ org_id: "org-mauntic-4242" }))).id).toBe(p.id);
  });
});

describe("deletes are idempotent", () => {
  test("a delete whose answer was lost is repeated, meets 404, and succeeds", async () => {
    const { id, main } = await devProject();
    const replica = await endpointProvider.create(
      endpointInputs({ project_id: id, branch_id: main }, { type: "read_only", name: "r" }),
    );
    fake.inject({ method: "DELETE", path: /\/endpoints\//, fault: { kind: "dropAfterCommit" } });
    await endpointProvider.delete!(replica.id, replica.outs);
    // The lost delete's own operation may still run when the retry arrives (423, retried), then it meets 404.
    const statuses = fake.calls("DELETE", /\/endpoints\//).map((r) => r.status);
    expect(statuses.filter((x) => x !== 423)).toEqual(["dropped", 404]);
    fake.inject({ method: "DELETE", path: /^\/projects\/[^/]+$/, fault: { kind: "dropAfterCommit" } });
    await projectProvider.delete!(id, {} as never);
    expect(fake.snapshot()).toEqual([]);
  });
});
