/**
 * `preview list|gc|deploy` through the real CLI and the Automation API, against a fake `pulumi` executable
 * (test/helpers/fake-pulumi.ts) and the local Neon fake: which stacks are destroyed and removed, what a dry run
 * leaves alone, what list prints, and the budget refusal with its numbers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../infra/cli/main";
import { createNeonClient } from "../infra/neon/client";
import { FakeNeon } from "./fakes/neon";
import { runCli } from "./helpers/cli";
import { FakePulumi, type FakeStack } from "./helpers/fake-pulumi";

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

function preview(name: string, pr: number, deployedHoursAgo: number, extra: Partial<FakeStack> = {}): FakeStack {
  const at = hoursAgo(deployedHoursAgo);
  return {
    name,
    tags: {
      "mauntic:pr": String(pr),
      "mauntic:deployed-at": at,
      "mauntic:expires-at": hoursAgo(deployedHoursAgo - 72),
    },
    outputs: { stack: name.split("/").pop() },
    resourceCount: 23,
    lastUpdate: at,
    ...extra,
  };
}

const committed = (name: string): FakeStack => ({
  name,
  tags: {},
  outputs: { neonProjectId: "prj-dev" },
  resourceCount: 30,
  lastUpdate: hoursAgo(500),
});

/** dev and prod (old, never candidates), an open fresh preview, an open stale one, two closed ones. */
function backend(): FakeStack[] {
  return [
    committed("dev"),
    committed("prod"),
    preview("pr-3", 3, 2), // closed
    preview("pr-5", 5, 10), // open, fresh
    preview("pr-7", 7, 100), // open, older than the 72 h TTL
    preview("mauntic/pr-9", 9, 1), // closed, listed with its organization
    { name: "pr-11", tags: {}, outputs: {}, resourceCount: 0 }, // open, never deployed
  ];
}

let fake: FakePulumi;
/**
 * The CLI's `main` in this process (the preview commands register no dynamic resource, so vitest's transform is
 * fine), with its own env and output captured: a child process per run would cost a tsx start and the Pulumi SDK
 * load each time. The first gc test runs the real entry point in a child process as well.
 */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const vars: NodeJS.ProcessEnv = {
    MAUNTIC_PULUMI_ROOT: fake.root,
    NEON_API_URL: undefined,
    NEON_API_KEY: undefined,
    ...env,
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: NodeJS.ProcessEnv) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((c) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((c) => ((stderr += String(c)), true));
  set(vars);
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.exitCode = undefined;
    out.mockRestore();
    err.mockRestore();
    set(saved);
  }
}

afterEach(() => fake?.remove());

describe("preview gc", () => {
  it("destroys and removes exactly the closed and stale previews, never dev, prod or an open fresh one", async () => {
    fake = new FakePulumi({ stacks: backend() });
    const r = await runCli(["preview", "gc", "--open", "5,7,11", "--json"], {
      env: { MAUNTIC_PULUMI_ROOT: fake.root },
    });
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { stack: string; reason: string | null; outcome: string }[];
    expect(rows.map((x) => [x.stack, x.reason, x.outcome])).toEqual([
      ["pr-3", "closed", "removed"],
      ["pr-5", null, "kept"],
      ["pr-7", "stale", "removed"],
      ["pr-9", "closed", "removed"],
      ["pr-11", null, "kept"],
    ]);
    expect(fake.state.stacks.map((s) => s.name).sort()).toEqual(["dev", "pr-11", "pr-5", "prod"]);
    // Each removed stack: destroy (with refresh) then stack rm; nothing else was written.
    const writes = fake.writes().map((c) => c.filter((a) => !a.startsWith("--exec-kind") && a !== "auto.local"));
    expect(writes).toEqual([
      ["destroy", "--yes", "--skip-preview", "--refresh", "--stack", "pr-3"],
      ["stack", "rm", "--yes", "pr-3"],
      ["destroy", "--yes", "--skip-preview", "--refresh", "--stack", "pr-7"],
      ["stack", "rm", "--yes", "pr-7"],
      ["destroy", "--yes", "--skip-preview", "--refresh", "--stack", "mauntic/pr-9"],
      ["stack", "rm", "--yes", "mauntic/pr-9"],
    ]);
  });

  it("--dry-run lists the same previews and changes nothing", async () => {
    fake = new FakePulumi({ stacks: backend() });
    const before = fake.state.stacks;
    const r = await cli(["preview", "gc", "--open", "5,7,11", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pr-3\s+planned\s+pull request #3 is closed$/m);
    expect(r.stdout).toMatch(/^pr-7\s+planned\s+last deployed .*\(TTL 72 h\)$/m);
    expect(r.stdout).toMatch(/^mauntic\/pr-9\s+planned/m);
    expect(r.stdout).toMatch(/^pr-5\s+kept/m);
    expect(fake.writes()).toEqual([]);
    expect(fake.state.stacks.map((s) => [s.name, s.resourceCount])).toEqual(
      before.map((s) => [s.name, s.resourceCount]),
    );
  });

  it("--pr decides about that pull request only (preview-gc.yml's per-pull-request removal)", async () => {
    fake = new FakePulumi({ stacks: backend() });
    const r = await cli(["preview", "gc", "--open", "5,7,11", "--pr", "9", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { stack: string; outcome: string }[];
    expect(rows.map((x) => [x.stack, x.outcome])).toEqual([["pr-9", "removed"]]);
    // pr-3 is closed and pr-7 stale too, but not this job's: untouched.
    expect(
      fake
        .writes()
        .filter((c) => c[0] === "destroy")
        .map((c) => c[c.indexOf("--stack") + 1]),
    ).toEqual(["mauntic/pr-9"]);
    // An open, fresh pull request given with --pr stays.
    const kept = await cli(["preview", "gc", "--open", "5,7,11", "--pr", "5", "--json"]);
    expect((JSON.parse(kept.stdout) as { outcome: string }[]).map((x) => x.outcome)).toEqual(["kept"]);
  });

  it("takes the open list from `gh pr list --json number` output and a --ttl-hours", async () => {
    fake = new FakePulumi({ stacks: backend() });
    const fs = await import("node:fs");
    const file = `${fake.root}/open.json`;
    fs.writeFileSync(
      file,
      JSON.stringify([{ number: 3 }, { number: 5 }, { number: 7 }, { number: 9 }, { number: 11 }]),
    );
    const r = await cli(["preview", "gc", "--open", file, "--ttl-hours", "5", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const removed = (JSON.parse(r.stdout) as { stack: string; outcome: string }[]).filter(
      (x) => x.outcome === "removed",
    );
    // 5 h TTL: pr-5 (10 h) and pr-7 (100 h) are stale; pr-3 (2 h) and pr-9 (1 h) are open and fresh.
    expect(removed.map((x) => x.stack)).toEqual(["pr-5", "pr-7"]);
  });

  it("keeps going past a stack it cannot destroy, exits 1 naming it, and leaves a running update alone", async () => {
    const stacks = backend();
    stacks.find((x) => x.name === "pr-3")!.failDestroy =
      "deleting urn:pulumi:pr-3::mauntic-infra::neon: 401 Unauthorized";
    stacks.find((x) => x.name === "mauntic/pr-9")!.updateInProgress = true;
    fake = new FakePulumi({ stacks });
    const r = await cli(["preview", "gc", "--open", "5,7,11", "--json"]);
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout) as { stack: string; outcome: string; detail: string; error?: string }[];
    expect(rows.find((x) => x.stack === "pr-3")).toMatchObject({
      outcome: "failed",
      error: expect.stringMatching(/401 Unauthorized/),
    });
    // A deploy holds pr-9: it is left for the next run, not destroyed under the running update.
    expect(rows.find((x) => x.stack === "pr-9")).toMatchObject({
      outcome: "kept",
      detail: expect.stringMatching(/update is running/),
    });
    expect(rows.filter((x) => x.outcome === "removed").map((x) => x.stack)).toEqual(["pr-7"]);
    // The failed one is still there to retry; it was never `stack rm`ed with resources.
    expect(fake.state.stacks.map((s) => s.name).sort()).toEqual([
      "dev",
      "mauntic/pr-9",
      "pr-11",
      "pr-3",
      "pr-5",
      "prod",
    ]);
    expect(fake.writes().filter((c) => c[1] === "rm")).toEqual([["stack", "rm", "--yes", "pr-7"]]);
  });

  it("refuses a missing or malformed open list (exit 2) and touches nothing", async () => {
    fake = new FakePulumi({ stacks: backend() });
    expect((await cli(["preview", "gc"])).code).toBe(2);
    const r = await cli(["preview", "gc", "--open", "five"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--open 'five' is neither a file nor a list of numbers/);
    expect(fake.calls()).toEqual([]);
  });
});

describe("preview list", () => {
  it("says which Pulumi CLI is missing (exit 1)", async () => {
    fake = new FakePulumi({ stacks: [] });
    const r = await cli(["preview", "list"], { MAUNTIC_PULUMI_ROOT: `${fake.root}/nowhere` });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: no Pulumi CLI on ${fake.root}/nowhere/bin/pulumi (MAUNTIC_PULUMI_ROOT): install it (https://www.pulumi.com/docs/install/) and log in\n`,
    );
  });

  it("--json gives every preview with its pull request, last deploy and expiry, and no other stack", async () => {
    fake = new FakePulumi({ stacks: backend() });
    const expected = fake.state.stacks.filter((s) => s.name.includes("pr-"));
    const r = await cli(["preview", "list", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(list.map((p) => p.stack)).toEqual(["pr-3", "pr-5", "pr-7", "pr-9", "pr-11"]);
    for (const p of list) {
      const src = expected.find((s) => s.name.endsWith(p.stack as string))!;
      expect(p).toEqual({
        stack: p.stack,
        name: src.name,
        pr: Number((p.stack as string).slice(3)),
        ...(src.tags["mauntic:deployed-at"] ? { lastDeploy: src.tags["mauntic:deployed-at"] } : {}),
        ...(src.tags["mauntic:expires-at"] ? { expiresAt: src.tags["mauntic:expires-at"] } : {}),
        resourceCount: src.resourceCount,
        updateInProgress: false,
        url: expect.stringMatching(/^https:\/\/app\.pulumi\.com\/mauntic\/mauntic-infra\/pr-\d+$/),
      });
    }
    // The never-deployed stack has neither.
    expect(list.at(-1)).not.toHaveProperty("lastDeploy");
    expect(fake.writes()).toEqual([]);
  });
});

describe("preview deploy", () => {
  const neon = new FakeNeon();
  let env: NodeJS.ProcessEnv;
  let devProject: string;
  let url: string;
  beforeAll(async () => {
    url = await neon.start();
    devProject = neon.seedProject("mauntic-dev").id;
    env = { NEON_API_URL: url, NEON_API_KEY: neon.apiKey };
  });
  afterAll(() => neon.stop());

  /** A branch of dev's project made through the API, as an earlier preview deploy made it. */
  async function makeBranch(name: string, expiresAt: string): Promise<string> {
    const client = createNeonClient({ apiKey: neon.apiKey, baseUrl: url, pollIntervalMs: 5 });
    const made = await client.write(devProject, `create branch ${name}`, (p) =>
      client.api.createProjectBranch(devProject, { branch: { name, expires_at: expiresAt } }, p),
    );
    return made!.branch.id;
  }

  const devStack = (): FakeStack => ({ ...committed("dev"), outputs: { neonProjectId: devProject } });
  const upResult = {
    resourceCount: 23,
    outputs: { stack: "pr-42", neonBranchId: "br-new", databasePooledHost: "ep-x-pooler.us-east-2.aws.neon.tech" },
  };

  it("tags the stack, runs up with refresh and prints the hosts", async () => {
    // The stack does not exist yet: the deploy creates it in the parent stack's organization.
    fake = new FakePulumi({ stacks: [devStack(), committed("prod")], onUp: { "pr-42": upResult } });
    const r = await cli(
      ["preview", "deploy", "--pr", "42", "--sha", "abc1234", "--json", "--policy-pack", "policies"],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      stack: string;
      hosts: Record<string, string>;
      expiresAt: string;
      deployedAt: string;
    };
    expect(out.stack).toBe("pr-42");
    expect(out.hosts).toMatchObject({
      api: "https://pr-42-api.mauntic.dev",
      "database (pooled)": "ep-x-pooler.us-east-2.aws.neon.tech",
    });
    expect(Date.parse(out.expiresAt) - Date.parse(out.deployedAt)).toBe(72 * 3_600_000);
    const created = fake.state.stacks.find((x) => x.name === "mauntic/pr-42")!;
    expect(created.tags).toEqual({
      "mauntic:pr": "42",
      "mauntic:deployed-at": out.deployedAt,
      "mauntic:expires-at": out.expiresAt,
      "mauntic:sha": "abc1234",
    });
    // Created, tagged, then up with refresh: a deploy that fails half-way is still dated for gc.
    const writes = fake.writes().map((c) => (c[0] === "stack" ? c.slice(0, 3).join(" ") : c[0]));
    expect(writes).toEqual([
      "stack init mauntic/pr-42",
      "stack tag set",
      "stack tag set",
      "stack tag set",
      "stack tag set",
      "up",
    ]);
    // The gate ran first, with the same pack, and the up only after it passed.
    const names = fake.calls().map((c) => c[0]);
    expect(names.indexOf("preview")).toBeGreaterThan(-1);
    expect(names.indexOf("preview")).toBeLessThan(names.indexOf("up"));
    const gate = fake.calls().find((c) => c[0] === "preview")!;
    expect(gate).toContain("--refresh");
    expect(gate.slice(gate.indexOf("--policy-pack"), gate.indexOf("--policy-pack") + 2)).toEqual([
      "--policy-pack",
      "policies",
    ]);
    const up = fake.calls().find((c) => c[0] === "up")!;
    expect(up).toContain("--refresh");
    expect(up.slice(up.indexOf("--policy-pack"), up.indexOf("--policy-pack") + 2)).toEqual([
      "--policy-pack",
      "policies",
    ]);
    expect(up.slice(up.indexOf("--stack"))).toEqual(["--stack", "mauntic/pr-42"]);
  });

  it("stops at the policy preview on a mandatory finding: no tag, no up, the finding in the error", async () => {
    fake = new FakePulumi({
      stacks: [devStack(), committed("prod")],
      onUp: { "pr-42": upResult },
      onPreview: {
        "pr-42": [
          {
            policy: "preview-branch-ttl",
            level: "mandatory",
            resource: "pulumi-nodejs:dynamic/neon:Branch: branch",
            message: "preview branch pr-42 expires in 45 days, more than 30",
          },
        ],
      },
    });
    const r = await cli(["preview", "deploy", "--pr", "42"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pr-42: the policy preview failed, nothing was deployed/);
    expect(r.stderr).toMatch(/\[mandatory\]  preview-branch-ttl .*more than 30/);
    // No flag given: the project's pack and the preview config, always.
    const gate = fake.calls().find((c) => c[0] === "preview")!;
    const after = (f: string) => gate[gate.indexOf(f) + 1];
    expect(after("--policy-pack")).toMatch(/\/policies$/);
    expect(after("--policy-pack-config")).toMatch(/\/policies\/config\/preview\.json$/);
    // Only the stack itself was made (the preview needs one); no tag, no up: nothing in the cloud changed.
    expect(fake.writes().map((c) => c.slice(0, 2).join(" "))).toEqual(["stack init"]);
    expect(fake.state.stacks.find((x) => x.name === "mauntic/pr-42")!.resourceCount).toBe(0);
  });

  it("goes on past an advisory finding", async () => {
    fake = new FakePulumi({
      stacks: [devStack(), committed("prod")],
      onUp: { "pr-42": upResult },
      onPreview: {
        "pr-42": [
          { policy: "cache-tiers", level: "advisory", resource: "cloudflare:index/ruleset:Ruleset: x", message: "m" },
        ],
      },
    });
    const r = await cli(["preview", "deploy", "--pr", "42"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(
      fake
        .writes()
        .map((c) => c[0])
        .pop(),
    ).toBe("up");
  });

  it("refuses, with the numbers, when no Hyperdrive config is left, and creates nothing", async () => {
    // dev 6 + prod 6 committed of 25: 13 live previews fill the account.
    const live = Array.from({ length: 13 }, (_, i) => preview(`pr-${100 + i}`, 100 + i, 1));
    fake = new FakePulumi({ stacks: [devStack(), committed("prod"), ...live] });
    const r = await cli(["preview", "deploy", "--pr", "42"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /preview budget exceeded for pr-42: Hyperdrive configs in Cloudflare account [0-9a-f]{32}: needs 1, 0 left of 25 \(25 used; paid plan limit 25; committed stacks dev 6 \+ prod 6; 13 live preview\(s\) x 1/,
    );
    expect(fake.writes()).toEqual([]);
  });

  it("refuses, with the numbers, when dev's Neon project has no branch left, and creates nothing", async () => {
    neon.branchesLimit = 1; // the dev project's main branch uses it
    try {
      fake = new FakePulumi({ stacks: [devStack(), committed("prod")] });
      const r = await cli(["preview", "deploy", "--pr", "42"], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `Neon branches in project ${devProject}: needs 1, 0 left of 1 \\(1 used; plan allowance from Neon; 1 branch\\(es\\) exist\\)`,
        ),
      );
      expect(fake.writes()).toEqual([]);
    } finally {
      neon.branchesLimit = 10;
    }
  });

  it("counts a preview whose branch is alive as needing none, and one whose branch expired as needing one", async () => {
    // main + pr-41's branch + pr-42's branch: the allowance of 3 is used up.
    const soon = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    await makeBranch("mauntic-pr-41", soon);
    const mine = await makeBranch("mauntic-pr-42", soon);
    neon.branchesLimit = 3;
    try {
      const stacks = () => [
        devStack(),
        committed("prod"),
        preview("pr-42", 42, 5, { outputs: { neonBranchId: mine } }),
      ];
      fake = new FakePulumi({ stacks: stacks() });
      const again = await cli(["preview", "deploy", "--pr", "42"], env);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/\| Neon branches in project \S+ \| 0 \| 3 \| 0 of 3 \|/);

      // Neon deletes pr-42's branch at its expires_at; another branch takes the freed place before the next push.
      neon.projects.get(devProject)!.branches.get(mine)!.expires_at = "2026-01-01T00:00:00Z";
      await makeBranch("someone-elses-branch", soon);
      fake.remove();
      fake = new FakePulumi({ stacks: stacks() });
      const expired = await cli(["preview", "deploy", "--pr", "42"], env);
      expect(expired.code).toBe(1);
      expect(expired.stderr).toMatch(/needs 1, 0 left of 3 .*this preview's branch br-[\w-]+ has expired/);
      expect(fake.writes()).toEqual([]);
    } finally {
      neon.branchesLimit = 10;
    }
  });
});
