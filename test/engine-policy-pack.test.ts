/**
 * The policy pack under the real engine, on this project's program: `pulumi preview --policy-pack policies
 * --policy-pack-config policies/config/<env>.json` as deploy.yml runs it before every up. Committed stacks with every
 * credential set as a secret pass; one credential in plain text fails on no-plaintext-secrets; a prod compute-size
 * cut that breaks the connection budget fails on connection-budget with its figures. Nothing reaches the stand-ins.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { planJson } from "./helpers/cli";
import { describeWithEngine, EngineWorkspace, type RunResult } from "./helpers/engine";
import { FakeCloudflareApi } from "./fakes/cloudflare-api";
import { FakeFly } from "./fakes/fly";
import { FakeNeon } from "./fakes/neon";

// A preview of the whole program starts the language host, the program, three provider plugins and the pack:
// 30-60 s each on a loaded machine.
const T = 600_000;

const neon = new FakeNeon();
const fly = new FakeFly();
const cloudflare = new FakeCloudflareApi();
/** The credentials the program's providers take, each set with `pulumi config set --secret` unless a test says so. */
const credentials = (): Record<string, string> => ({
  "mauntic-infra:neonApiKey": neon.apiKey,
  "mauntic-infra:flyApiToken": fly.token,
  "cloudflare:apiToken": cloudflare.token,
});

const output = (r: RunResult) => `${r.stdout}\n${r.stderr}`;
/** The pack's findings at one enforcement level, as the CLI prints them (`- [mandatory]  <policy>  (<type>: <name>)`). */
const findings = (r: RunResult, level: "mandatory" | "advisory") =>
  [...output(r).matchAll(new RegExp(`- \\[${level}\\]\\s+(\\S+)`, "g"))].map((m) => m[1]);
/** The offline harness's findings on the same stack file (`plan --preview`, as a preview of a change), by level. */
async function offlineFindings(stack: string, configFile: string, level: "mandatory" | "advisory") {
  const plan = await planJson(stack, ["--preview", "--config-file", configFile]);
  return [...new Set(plan.violations.filter((v) => v.enforcement === level).map((v) => v.policy))].sort();
}
const unique = (xs: (string | undefined)[]) => [...new Set(xs)].sort();

/** The policies that reached no verdict ("can't run policy ... during preview"), printed with their reason. */
function cannotRun(stack: string, r: RunResult): void {
  const lines = output(r)
    .split("\n")
    .filter((l) => l.includes("can't run policy"))
    .map((l) => l.trim());
  console.info(`${stack}: ${lines.length} policies reached no verdict in this preview\n${lines.join("\n")}`);
}

describeWithEngine("the policy pack under the real engine", (engine) => {
  let ws: EngineWorkspace;

  const preview = (stack: "dev" | "prod") =>
    ws.pulumi(stack, ["preview", "--policy-pack", "policies", "--policy-pack-config", `policies/config/${stack}.json`]);

  beforeAll(async () => {
    const [neonUrl, flyUrl, cloudflareUrl] = await Promise.all([neon.start(), fly.start(), cloudflare.start()]);
    ws = new EngineWorkspace(engine, {
      // Should anything call out in a preview, it reaches a stand-in on 127.0.0.1, never a vendor.
      env: { NEON_API_URL: neonUrl, FLY_API_URL: flyUrl, CLOUDFLARE_BASE_URL: cloudflareUrl },
    });
    for (const stack of ["dev", "prod"]) {
      await ws.initStack(stack);
      for (const [key, value] of Object.entries(credentials())) await ws.setConfig(stack, key, value, { secret: true });
    }
  }, T);

  afterAll(async () => {
    ws?.remove();
    await Promise.all([neon.stop(), fly.stop(), cloudflare.stop()]);
  });

  it(
    "dev with every credential a secret: the preview passes with no mandatory finding",
    async () => {
      const r = await preview("dev");
      cannotRun("dev", r);
      expect(r.code, output(r)).toBe(0);
      expect(findings(r, "mandatory")).toEqual([]);
      expect(output(r)).not.toContain("no-plaintext-secrets");
      // The offline harness agrees, finding for finding.
      expect(await offlineFindings("dev", ws.configFile("dev"), "mandatory")).toEqual([]);
      expect(unique(findings(r, "advisory"))).toEqual(await offlineFindings("dev", ws.configFile("dev"), "advisory"));
    },
    T,
  );

  it(
    "dev with the Neon API key in plain text: the preview fails on no-plaintext-secrets, naming the key and the fix",
    async () => {
      await ws.setConfig("dev", "mauntic-infra:neonApiKey", neon.apiKey);
      try {
        const r = await preview("dev");
        expect(r.code).not.toBe(0);
        expect(findings(r, "mandatory")).toEqual(["no-plaintext-secrets"]);
        expect(output(r)).toContain(
          "provider config mauntic-infra:neonApiKey holds a credential in plain text (set it with 'pulumi config set --secret mauntic-infra:neonApiKey')",
        );
        // The other two are secrets: only the plain one is named.
        expect(output(r)).not.toContain("provider config mauntic-infra:flyApiToken");
        expect(output(r)).not.toContain("provider config cloudflare:apiToken");
      } finally {
        await ws.setConfig("dev", "mauntic-infra:neonApiKey", neon.apiKey, { secret: true });
      }
    },
    T,
  );

  it(
    "prod with every credential a secret: the preview passes with no mandatory finding",
    async () => {
      const r = await preview("prod");
      cannotRun("prod", r);
      expect(r.code, output(r)).toBe(0);
      expect(findings(r, "mandatory")).toEqual([]);
      expect(await offlineFindings("prod", ws.configFile("prod"), "mandatory")).toEqual([]);
      expect(unique(findings(r, "advisory"))).toEqual(await offlineFindings("prod", ws.configFile("prod"), "advisory"));
    },
    T,
  );

  it(
    "a prod compute-size cut that breaks the connection budget fails the preview with the policy's figures",
    async () => {
      // The primary's minimum from 1 CU (419 - 7 = 412 connections) to 0.25 CU (104 - 7 = 97): its clients (5
      // Hyperdrive configs x 20, the migrator's 2, 4 Fly apps x 2 machines x 10) open 182.
      const file = ws.configFile("prod");
      const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
      expect(doc.getIn(["config", "mauntic-infra:neon", "primary", "minCu"])).toBe(1);
      doc.setIn(["config", "mauntic-infra:neon", "primary", "minCu"], 0.25);
      fs.writeFileSync(file, doc.toString());

      const r = await preview("prod");
      expect(r.code).not.toBe(0);
      expect(findings(r, "mandatory")).toEqual(["connection-budget"]);
      expect(await offlineFindings("prod", file, "mandatory")).toEqual(["connection-budget"]);
      console.info(
        output(r)
          .split("\n")
          .find((l) => l.includes("mauntic-prod-primary at its minimum"))
          ?.trim(),
      );
      expect(output(r)).toMatch(
        /mauntic-prod-primary at its minimum 0\.25 CU allows 97 connections \(max_connections 104 - 7 reserved\); its clients can open 182: Hyperdrive mauntic-prod-\w+-db 20/,
      );
    },
    T,
  );

  it("no preview reached a stand-in: nothing was created, read or changed", () => {
    expect(neon.requests).toEqual([]);
    expect(cloudflare.requests).toEqual([]);
    expect(fly.apps.size).toBe(0);
  });
});
