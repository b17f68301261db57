import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import {
  maxConnections,
  MIGRATOR_CONNECTIONS,
  PG_POOL_DEFAULT_MAX,
  poolSize,
  RESERVED_CONNECTIONS,
} from "../policies/connection-budget";
import { ALLOWED } from "../policies/no-plaintext-secrets";
import { ROOT, runCli } from "./helpers/cli";
import { KNOWN } from "./helpers/known-findings";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-plan-"));
function stackFile(stack: "dev" | "prod", edit: (text: string) => string): string {
  const file = path.join(tmp, `Pulumi.${stack}.yaml`);
  const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
  const changed = edit(text);
  if (changed === text) throw new Error("the edit changed nothing");
  fs.writeFileSync(file, changed);
  return file;
}

describe("plan (offline engine through the CLI)", () => {
  it("--json reaches a reader slower than the writer whole (a plan is larger than a pipe's 64 KiB buffer)", async () => {
    // The reader starts 2 s late: a CLI that calls process.exit() before stdout drains (as it once did) loses
    // everything past the pipe's 64 KiB.
    const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        "sh",
        ["-c", `"${tsx}" infra/cli/main.ts plan --stack prod --json 2>/dev/null | { sleep 2; cat; }`],
        {
          cwd: ROOT,
          stdio: ["pipe", "pipe", "inherit"], // stdin open, as a shell or a CI step has it
        },
      );
      let text = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (text += d));
      child.on("error", reject);
      child.on("close", () => resolve(text));
    });
    expect(out.length).toBeGreaterThan(65_536);
    expect((JSON.parse(out) as { stack: string }).stack).toBe("prod");
  });

  it.each(["dev", "prod", "pr-42"])("%s prints a JSON plan of the stack with its policy findings", async (stack) => {
    const r = await runCli(["plan", "--stack", stack, "--json"]);
    const plan = JSON.parse(r.stdout) as import("../infra/offline/plan").Plan;
    expect(Object.keys(plan).sort()).toEqual(["depth", "outputs", "resources", "stack", "violations"]);
    expect(plan.stack).toBe(stack);
    const findings = plan.violations.map((v) => `${v.enforcement} ${v.policy} ${v.urn?.split("::").pop()}`).sort();
    expect(findings).toEqual([...KNOWN[stack]!].sort());
    expect(r.code).toBe(findings.some((f) => f.startsWith("mandatory")) ? 1 : 0);
    for (const v of plan.violations) expect(Object.keys(v).sort()).toEqual(["enforcement", "message", "policy", "urn"]);
    const root = plan.resources.find((x) => x.type === "pulumi:pulumi:Stack");
    expect(root?.urn).toBe(`urn:pulumi:${stack}::mauntic-infra::pulumi:pulumi:Stack::mauntic-infra-${stack}`);
    for (const res of plan.resources) {
      expect(res.urn.startsWith(`urn:pulumi:${stack}::mauntic-infra::`)).toBe(true);
      // Every resource but the root hangs under a parent that is itself in the plan.
      if (res !== root) expect(plan.resources.some((p) => p.urn === res.parent)).toBe(true);
      for (const d of res.dependsOn) expect(plan.resources.some((p) => p.urn === d)).toBe(true);
    }
    expect(plan.outputs.environment).toBe(stack.startsWith("pr-") ? "preview" : stack);
  });

  it("exits 1 on a mandatory violation and names the policy and the resource", async () => {
    // Every worker's Hyperdrive config at 100 origin connections through the pooler, as its own role.
    const file = stackFile("prod", (t) => t.replace(/originConnectionLimit: 20/g, "originConnectionLimit: 100"));
    // What the primary's clients can open, from the stack file: each worker with a database has one config on the
    // primary (the replica's are another endpoint), each Fly queue worker with a database role one pool per machine
    // on its worker's role, and the migrator its 2 direct. Every role stays under its pool, so nothing is capped.
    const cfg = YAML.parse(fs.readFileSync(file, "utf8")).config;
    const workers = Object.values(cfg["mauntic-infra:workers"] as Record<string, { database?: unknown }>);
    const hyperdrive = workers.filter((w) => w.database).length * 100;
    const fly = Object.values(
      cfg["mauntic-infra:fly"].queueWorkers as Record<string, { count: number; databaseRole?: string }>,
    )
      .filter((q) => q.databaseRole)
      .reduce((n, q) => n + q.count * PG_POOL_DEFAULT_MAX, 0);
    expect(100 + 2 * PG_POOL_DEFAULT_MAX).toBeLessThan(poolSize(1)); // a role's config + its Fly app's 2 machines
    const minCu = cfg["mauntic-infra:neon"].primary.minCu as number;
    const clients = hyperdrive + fly + MIGRATOR_CONNECTIONS;
    // The edit must break the budget for the test to prove anything (committed prod: 5 x 20 + 80 + 2 = 182 of 412).
    expect(clients).toBeGreaterThan(maxConnections(minCu) - RESERVED_CONNECTIONS);
    const r = await runCli(["plan", "--stack", "prod", "--config-file", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `✗ mandatory [connection-budget] pulumi-nodejs:dynamic/neon:Endpoint mauntic-prod-neon-primary: mauntic-prod-primary at its minimum ${minCu} CU allows ${maxConnections(minCu) - RESERVED_CONNECTIONS} connections (max_connections ${maxConnections(minCu)} - ${RESERVED_CONNECTIONS} reserved); its clients can open ${clients}: `,
    );
    const json = await runCli(["plan", "--stack", "prod", "--config-file", file, "--json"]);
    expect(json.code).toBe(1);
    const plan = JSON.parse(json.stdout) as import("../infra/offline/plan").Plan;
    expect(plan.violations.filter((v) => v.policy === "connection-budget").map((v) => [v.enforcement, v.urn])).toEqual([
      [
        "mandatory",
        "urn:pulumi:prod::mauntic-infra::mauntic:neon:Database$pulumi-nodejs:dynamic/neon:Endpoint::mauntic-prod-neon-primary",
      ],
    ]);
  });

  it("--preview: a prod compute-size cut that breaks the budget fails as `pulumi preview` sees it (hosts unknown)", async () => {
    // The primary's minimum 1 CU -> 0.25 CU: 104 - 7 = 97 for 5 x 20 Hyperdrive + 4 apps x 2 machines x 10 + 2.
    const file = stackFile("prod", (t) => t.replace("primary: { minCu: 1,", "primary: { minCu: 0.25,"));
    expect(YAML.parse(fs.readFileSync(file, "utf8")).config["mauntic-infra:neon"].primary.minCu).toBe(0.25);
    const r = await runCli(["plan", "--stack", "prod", "--config-file", file, "--preview", "--json"]);
    expect(r.code).toBe(1);
    const plan = JSON.parse(r.stdout) as import("../infra/offline/plan").Plan;
    // In the preview the endpoints' hosts are unknown: the plan shows them so, and the policy still judges.
    const primary = plan.resources.find((x) => x.name === "mauntic-prod-neon-primary")!;
    expect(primary.inputs.host).toBeUndefined();
    const budget = plan.violations.filter((v) => v.policy === "connection-budget");
    expect(budget.map((v) => v.enforcement)).toEqual(["mandatory"]);
    expect(budget[0]!.message).toMatch(
      /^mauntic-prod-primary at its minimum 0\.25 CU allows 97 connections \(max_connections 104 - 7 reserved\); its clients can open 182: /,
    );
    expect(plan.violations.filter((v) => /during preview/.test(v.message)).map((v) => v.policy)).not.toContain(
      "connection-budget",
    );
    // The committed prod previews clean for the budget.
    const clean = await runCli(["plan", "--stack", "prod", "--preview", "--json"]);
    const cleanPlan = JSON.parse(clean.stdout) as import("../infra/offline/plan").Plan;
    expect(cleanPlan.violations.filter((v) => v.policy === "connection-budget")).toEqual([]);
  });

  it("reports a finding about the whole stack against the root stack resource", async () => {
    const file = stackFile("prod", (t) => t.replace("ttlSeconds: 3600", "ttlSeconds: 7200"));
    const r = await runCli(["plan", "--stack", "prod", "--config-file", file, "--json"]);
    expect(r.code).toBe(1);
    const found = (JSON.parse(r.stdout) as import("../infra/offline/plan").Plan).violations.filter(
      (v) => v.policy === "kv-ttl-bounds",
    );
    expect(found).toEqual([
      {
        policy: "kv-ttl-bounds",
        enforcement: "mandatory",
        urn: "urn:pulumi:prod::mauntic-infra::pulumi:pulumi:Stack::mauntic-infra-prod",
        message: "cache key plan (plan:{planId}): ttlSeconds 7200 exceeds the 3600 s safety net",
      },
    ]);
  });

  it("uses each environment's pack config: the same finding is advisory where dev says so", async () => {
    // connection-budget: mandatory in prod, advisory in dev. 20 -> 100 per worker exceeds 0.25 CU's 97 in dev.
    const file = stackFile("dev", (t) => t.replace(/originConnectionLimit: \d+/g, "originConnectionLimit: 100"));
    const r = await runCli(["plan", "--stack", "dev", "--config-file", file, "--json"]);
    const found = (JSON.parse(r.stdout) as import("../infra/offline/plan").Plan).violations.filter(
      (v) => v.policy === "connection-budget",
    );
    expect(found.map((v) => v.enforcement)).toEqual(["advisory"]);
    expect(r.code).toBe(0); // advisory findings print; only mandatory ones fail (dev's other findings are advisory)
    expect(found[0]!.message).toMatch(/^mauntic-dev-primary at its minimum 0.25 CU allows 97 connections/);
  });

  it("every place no-plaintext-secrets allows a credential is a secret in the plan", async () => {
    for (const stack of ["dev", "prod", "pr-42"]) {
      const plan = JSON.parse((await runCli(["plan", "--stack", stack, "--json"])).stdout);
      let checked = 0;
      for (const r of plan.resources as import("../infra/offline/plan").PlanResource[]) {
        for (const p of ALLOWED[r.type] ?? []) {
          const v = p.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], r.inputs);
          if (v !== undefined) {
            expect(v, `${stack} ${r.name} ${p}`).toBe("[secret]");
            checked++;
          }
        }
      }
      for (const p of ALLOWED["pulumi:pulumi:Stack"]!) {
        if (plan.outputs[p] !== undefined) {
          expect(plan.outputs[p], `${stack} output ${p}`).toBe("[secret]");
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(2);
    }
  });

  it("prints a readable tree with the totals", async () => {
    const r = await runCli(["plan", "--stack", "dev"]);
    expect(r.stdout).toMatch(/^▸ pulumi:pulumi:Stack {2}mauntic-infra-dev/m);
    expect(r.stdout).toMatch(/stack dev: \d+ resources to create, \d+ components, dependency depth \d+/);
  });

  it("--help documents the command", async () => {
    const r = await runCli(["plan", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--config-file <path>");
    expect(r.stdout).toContain("Exit codes");
  });
});
