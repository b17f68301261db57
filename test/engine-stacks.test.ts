/**
 * dev, prod and pr-42 under the real engine (the Pulumi CLI of `npm run engine`, a file backend, a passphrase),
 * against the stand-ins of every service (test/helpers/stand-ins.ts): the Neon API with real PostgreSQL 17 behind
 * its endpoints, the Fly Machines API, the Cloudflare API through the stand-in Cloudflare plugin, and the post-deploy
 * migrations through the command plugin on the real database. Every credential is set as the README says,
 * `pulumi config set --secret`.
 *
 * One workspace for the file, in order: each stack's preview with the policy pack, up, a second up and a refresh
 * that change nothing, one config change that updates exactly what it names; pr-42 reads dev through its
 * StackReference and is destroyed at the end, leaving nothing of it in the stand-ins and dev as it was.
 * MAUNTIC_DEPLOYMENT_ID is fixed, as CI fixes it per run: the post-deploy step runs once per deployment id.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { changeSummary, describeWithEngine, EngineWorkspace } from "./helpers/engine";
import { planJson, runCli } from "./helpers/cli";
import { planVsPreview, type EnginePreview } from "./helpers/differential";
import { CREDENTIALS, startStandIns, type StandIns } from "./helpers/stand-ins";

// A CLI run starts the language host, Node and ts-node, then every plugin: a minute or two on a loaded machine.
const T = 900_000;
const PACK = "policies";
const packConfig = (stack: string) =>
  path.join("policies", "config", `${stack.startsWith("pr-") ? "preview" : stack}.json`);

const typeOf = (urn: string) => urn.split("::")[2]!.split("$").at(-1)!;
const nameOf = (urn: string) => urn.split("::")[3]!;
/** The steps that change something (a StackReference's `read` is a read of another stack, not a change). */
const changed = (p: EnginePreview) =>
  p.steps.filter((s) => s.op !== "same" && s.op !== "read").map((s) => `${s.op} ${nameOf(s.urn)}`);

describeWithEngine("dev, prod and pr-42 under the real engine, against the stand-ins", (engine) => {
  let s: StandIns;
  let ws: EngineWorkspace;

  /** The stack file of the workspace, edited in place. */
  const editConfig = (stack: string, edit: (config: Record<string, any>) => void) => {
    const file = ws.configFile(stack);
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
    const config = doc.toJS().config as Record<string, any>;
    edit(config);
    for (const [k, v] of Object.entries(config)) doc.setIn(["config", k], v);
    fs.writeFileSync(file, doc.toString());
  };

  beforeAll(async () => {
    s = await startStandIns();
    ws = new EngineWorkspace(engine, { env: { ...s.env, MAUNTIC_DEPLOYMENT_ID: "e2e-1" } });
    // pr-42's own file: dev's values as a preview; its parent is dev in this backend's organization (the file
    // backend has one, `organization`).
    const dev = YAML.parse(fs.readFileSync(ws.configFile("dev"), "utf8")) as { config: Record<string, any> };
    dev.config["mauntic-infra:environment"] = "preview";
    dev.config["mauntic-infra:preview"].parentStack = "organization/mauntic-infra/dev";
    fs.writeFileSync(ws.configFile("pr-42"), YAML.stringify(dev));
    for (const stack of ["dev", "prod", "pr-42"]) {
      await ws.initStack(stack);
      for (const [key, value] of Object.entries(CREDENTIALS)) await ws.setConfig(stack, key, value, { secret: true });
    }
  }, T);

  afterAll(async () => {
    await s?.stop();
    ws?.remove();
  }, T);

  const previewWithPack = async (stack: string) => {
    const r = await ws.pulumi(stack, [
      "preview",
      "--json",
      "--policy-pack",
      PACK,
      "--policy-pack-config",
      packConfig(stack),
    ]);
    expect(r.code, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).toBe(0);
    return JSON.parse(r.stdout) as EnginePreview;
  };

  const upThenNothing = async (stack: string) => {
    // With the pack, as deploy.yml runs it: stack policies judge the applied state after the last step.
    const up = await ws.ok(stack, [
      "up",
      "--yes",
      "--skip-preview",
      "--policy-pack",
      PACK,
      "--policy-pack-config",
      packConfig(stack),
    ]);
    expect(up.stdout).toMatch(/Resources:\n\s+\+ \d+ created/);
    // The second up and the refresh: the engine exits non-zero on any change (--expect-no-changes).
    await ws.ok(stack, ["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    await ws.ok(stack, ["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
    return up;
  };

  it(
    "dev: the preview with the policy pack creates every resource and finds nothing",
    async () => {
      const p = await previewWithPack("dev");
      expect(p.changeSummary.create).toBeGreaterThan(40);
      expect(p.steps.every((st) => st.op === "create")).toBe(true);
      expect(s.neon.projects.size).toBe(0); // a preview creates nothing
      // The offline plan of the same preview agrees: resources, parents, dependencies, secret and unknown values.
      expect(planVsPreview(await planJson("dev", ["--preview"]), p)).toEqual([]);
    },
    T,
  );

  it(
    "dev: up creates it all on the stand-ins and runs the migrations on the real database; a second up and a refresh change nothing",
    async () => {
      const up = await upThenNothing("dev");
      expect(up.stdout).toContain("migrations on ep-");
      expect([...s.neon.projects.values()].map((p) => p.name)).toEqual(["mauntic-dev"]);
      expect([...s.fly.apps.keys()]).toContain("mauntic-dev-redis");
      expect([...s.cloudflare.hyperdrive.values()].length).toBeGreaterThan(0);
      expect(s.fly.violations).toEqual([]);
      expect(s.neon.specViolations).toEqual([]);
      expect(s.cloudflare.violations).toEqual([]);
      expect(s.compute.errors).toEqual([]);
    },
    T,
  );

  it(
    "dev: one config change (crm's Hyperdrive cache max age) previews and applies as an update of that config alone",
    async () => {
      editConfig("dev", (c) => (c["mauntic-infra:workers"].crm.database.hyperdrive.caching.maxAgeSeconds = 30));
      const p = await ws.json<EnginePreview>("dev", ["preview"]);
      expect(changed(p)).toEqual(["update mauntic-dev-crm-db"]);
      await ws.ok("dev", ["up", "--yes", "--skip-preview"]);
      const crm = [...s.cloudflare.hyperdrive.values()].find((h: any) => h.name === "mauntic-dev-crm-db") as any;
      expect(crm?.caching?.max_age).toBe(30);
    },
    T,
  );

  /** The preview CLI over the Automation API with this engine (MAUNTIC_PULUMI_ROOT) on this workspace's project. */
  const previewCli = (args: string[]) =>
    runCli(["preview", ...args], {
      cwd: ws.projectDir,
      env: {
        ...ws.env,
        MAUNTIC_PULUMI_ROOT: engine.root,
        MAUNTIC_PROJECT_DIR: ws.projectDir,
        // The budget check reads Neon before anything is deployed, as the workflow gives it the key.
        NEON_API_KEY: CREDENTIALS["mauntic-infra:neonApiKey"],
      },
    });

  it(
    "pr-42: `preview deploy` stops at its policy gate on a mandatory finding, with nothing changed in the stand-ins",
    async () => {
      // pr-42's one shared Hyperdrive config logs in as the migrator: an advisory finding in preview.json, made
      // mandatory here.
      const config = path.join(ws.dir, "strict-preview.json");
      const committed = JSON.parse(fs.readFileSync(path.join(ws.projectDir, packConfig("pr-42")), "utf8")) as Record<
        string,
        string
      >;
      fs.writeFileSync(config, JSON.stringify({ ...committed, "least-privilege-roles": "mandatory" }));
      const requestsBefore = {
        neon: s.neon.requests.filter((r) => r.method !== "GET").length,
        cf: s.cloudflare.requests.length,
      };
      const d = await previewCli(["deploy", "--pr", "42", "--policy-pack", PACK, "--policy-pack-config", config]);
      expect(d.code).toBe(1);
      expect(d.stderr).toContain("pr-42: the policy preview failed, nothing was deployed");
      expect(d.stderr).toMatch(/\[mandatory\]\s+least-privilege-roles/);
      expect(s.neon.requests.filter((r) => r.method !== "GET").length).toBe(requestsBefore.neon);
      expect(s.cloudflare.requests.filter((r) => r.method !== "GET").length).toBe(
        s.cloudflare.requests.slice(0, requestsBefore.cf).filter((r) => r.method !== "GET").length,
      );
      expect([...s.fly.apps.keys()].filter((a) => a.includes("pr-42"))).toEqual([]);
    },
    T,
  );

  it(
    "pr-42: `preview deploy --pr 42` (Automation API, real CLI) gates with the pack, then deploys it on dev's project; `preview list` shows it; a second up and a refresh change nothing",
    async () => {
      const d = await previewCli(["deploy", "--pr", "42", "--sha", "e2e0000", "--json"]);
      expect(d.code, d.stderr.slice(-6000)).toBe(0);
      const result = JSON.parse(d.stdout) as { stack: string; outputs: Record<string, unknown>; expiresAt: string };
      expect(result.stack).toBe("pr-42");
      const devProject = [...s.neon.projects.values()].find((x) => x.name === "mauntic-dev")!;
      expect(result.outputs.neonProjectId).toBe(devProject.id);
      expect([...devProject.branches.values()].map((b: any) => b.name)).toContain("mauntic-pr-42");
      const list = await previewCli(["list", "--json"]);
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toMatchObject([{ stack: "pr-42", pr: 42, expiresAt: result.expiresAt }]);
      await ws.ok("pr-42", ["up", "--yes", "--skip-preview", "--expect-no-changes"]);
      await ws.ok("pr-42", ["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
    },
    T,
  );

  it(
    "pr-42: one config change (the branch's TTL) previews and applies as an update of the branch alone",
    async () => {
      editConfig("pr-42", (c) => (c["mauntic-infra:preview"].branchTtlHours = 96));
      const p = await ws.json<EnginePreview>("pr-42", ["preview"]);
      expect(changed(p)).toEqual(["update mauntic-pr-42-neon-branch"]);
      await ws.ok("pr-42", ["up", "--yes", "--skip-preview"]);
      const devProject = [...s.neon.projects.values()].find((x) => x.name === "mauntic-dev")!;
      const branch = [...devProject.branches.values()].find((b: any) => b.name === "mauntic-pr-42") as any;
      const hours = (Date.parse(branch.expires_at) - Date.now()) / 3_600_000;
      expect(hours).toBeGreaterThan(95);
      expect(hours).toBeLessThanOrEqual(96);
    },
    T,
  );

  it(
    "pr-42: `preview gc` (its pull request closed) destroys and removes it: nothing of it is left in the stand-ins, and dev is as it was",
    async () => {
      const before = await ws.json<Record<string, unknown>>("dev", ["stack", "output", "--show-secrets"]);
      const open = path.join(ws.dir, "open-prs.json");
      fs.writeFileSync(open, "[]");
      const gc = await previewCli(["gc", "--open", open, "--json"]);
      expect(gc.code, gc.stderr.slice(-6000)).toBe(0);
      expect(JSON.parse(gc.stdout)).toMatchObject([{ stack: "pr-42", reason: "closed", outcome: "removed" }]);
      const devProject = [...s.neon.projects.values()].find((x) => x.name === "mauntic-dev")!;
      expect([...devProject.branches.values()].map((b: any) => b.name)).not.toContain("mauntic-pr-42");
      expect([...s.fly.apps.keys()].filter((a) => a.includes("pr-42"))).toEqual([]);
      expect([...s.cloudflare.hyperdrive.values()].filter((h: any) => h.name.includes("pr-42"))).toEqual([]);
      expect([...s.cloudflare.kv.values()].filter((k: any) => k.title.includes("pr-42"))).toEqual([]);
      expect([...s.cloudflare.bucketMeta.values()].filter((b) => b.name.includes("pr-42"))).toEqual([]);
      expect((await ws.pulumi(undefined, ["stack", "ls", "--json"])).stdout).not.toContain("pr-42");
      await ws.ok("dev", ["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
      expect(await ws.json("dev", ["stack", "output", "--show-secrets"])).toEqual(before);
    },
    T,
  );

  it(
    "prod: the preview with the policy pack finds nothing; up, a second up and a refresh change nothing",
    async () => {
      const p = await previewWithPack("prod");
      expect(p.changeSummary.create).toBeGreaterThan(40);
      expect(planVsPreview(await planJson("prod", ["--preview"]), p)).toEqual([]);
      await upThenNothing("prod");
    },
    T,
  );

  it(
    "prod: one config change (a queue worker's memory) rolls its machines as an update, nothing else",
    async () => {
      let worker = "";
      editConfig("prod", (c) => {
        const workers = c["mauntic-infra:fly"].queueWorkers as Record<string, { memoryMb: number }>;
        worker = Object.keys(workers)[0]!;
        workers[worker]!.memoryMb *= 2;
      });
      const p = await ws.json<EnginePreview>("prod", ["preview"]);
      const updates = changed(p);
      expect(updates.length).toBeGreaterThan(0);
      expect(updates.every((u) => u.startsWith("update ") && u.includes(`-fly-${worker}-`))).toBe(true);
      expect(
        p.steps.filter((st) => st.op !== "same").every((st) => typeOf(st.urn) === "pulumi-nodejs:dynamic/fly:Machine"),
      ).toBe(true);
      const rolloutsBefore = s.fly.rollouts.length;
      await ws.ok("prod", ["up", "--yes", "--skip-preview"]);
      expect(s.fly.violations).toEqual([]);
      // Each of the worker's machines rolled one at a time, the others healthy while it did.
      const rolled = s.fly.rollouts.slice(rolloutsBefore);
      expect(rolled.length).toBe(updates.length);
      expect(rolled.every((r) => r.othersUnhealthy.length === 0)).toBe(true);
    },
    T,
  );
});

// After the suite above has stopped its stand-ins (port 5432 is free again): npm start's own deploy of dev.
describeWithEngine("npm start with the engine at hand", () => {
  it(
    "deploys dev for real against the stand-ins, prints the engine's summary and the post-deploy output, destroys it and says what is left",
    async () => {
      const r = await runCli(["rehearse"]);
      expect(r.code, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`).toBe(0);
      const deploy = r.stdout.slice(r.stdout.indexOf("== deploy:"), r.stdout.indexOf("== monitor:"));
      expect(deploy).toMatch(/\$ pulumi up -s dev \(exit 0\)\nResources:\n\s+\+ \d+ created/);
      expect(deploy).toMatch(
        /post-deploy \(the migrations step's own output\):\n\s+migrations on ep-[a-z0-9-]+\.us-east-2\.aws\.neon\.tech:5432\/mauntic/,
      );
      expect(deploy).toMatch(/\$ pulumi destroy -s dev \(exit 0\)\nResources:\n\s+- \d+ deleted/);
      expect(deploy).toContain(
        "left in the stand-ins after destroy: Neon projects 0, Fly apps 0, Hyperdrive configs 0, KV namespaces 0, R2 buckets 0",
      );
      expect(r.stdout.lastIndexOf("== monitor:")).toBeGreaterThan(r.stdout.indexOf("== deploy:"));
    },
    T,
  );
});
