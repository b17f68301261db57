/**
 * The Cloudflare part through the CLI, as a user runs it: `plan --json` for dev, prod and a preview, the zone-claim
 * conflict, and `bindings` fragments checked against the plan's ids.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../infra/offline/plan";
import { planJson, ROOT, runCli } from "./helpers/cli";

const HD = "cloudflare:index/hyperdriveConfig:HyperdriveConfig";
const plans: Record<string, Plan> = {};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-cf-plan-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  const [dev, prod, preview] = await Promise.all([planJson("dev"), planJson("prod"), planJson("pr-42")]);
  Object.assign(plans, { dev, prod, "pr-42": preview });
});

const resources = (plan: Plan, type: string) => plan.resources.filter((r) => r.type === type);

describe("plan --json", () => {
  for (const stack of ["dev", "prod"]) {
    it(`${stack}: one Hyperdrive config per database worker + the analytics replica config, pooled host, own user, masked password`, () => {
      const plan = plans[stack]!;
      const configs = resources(plan, HD);
      const pooled = plan.outputs.databasePooledHost as string;
      const replicaPooled = (plan.outputs.databaseReplicaHost as string).replace(/^([^.]+)/, "$1-pooler");
      expect(configs.map((c) => c.name).sort()).toEqual(
        ["identity", "crm", "delivery", "analytics", "analytics-replica", "journey"]
          .map((w) => `mauntic-${stack}-${w}-db`)
          .sort(),
      );
      for (const c of configs) {
        const worker = c.name.replace(`mauntic-${stack}-`, "").replace(/(-replica)?-db$/, "");
        const origin = c.inputs.origin as Record<string, unknown>;
        expect(origin).toEqual({
          scheme: "postgresql",
          host: c.name.includes("-replica-") ? replicaPooled : pooled,
          port: 5432,
          database: "mauntic",
          user: `mauntic_${stack}_${worker}`,
          password: "[secret]",
        });
        expect(c.inputs.originConnectionLimit).toBe(stack === "prod" ? 20 : 10);
        expect(c.inputs.caching).toEqual(
          ["crm", "analytics"].includes(worker)
            ? {
                disabled: false,
                ...(worker === "crm"
                  ? { maxAge: 60, staleWhileRevalidate: 15 }
                  : { maxAge: 300, staleWhileRevalidate: 60 }),
              }
            : { disabled: true },
        );
        // Cloudflare connects when it creates a config: the Neon database and roles come first.
        expect(c.dependsOn.some((d) => d.endsWith(`mauntic-${stack}-neon-database`))).toBe(true);
        expect(c.dependsOn.some((d) => d.endsWith(`mauntic-${stack}-neon-role-${worker}`))).toBe(true);
      }
      expect(JSON.stringify(plan)).not.toContain("pw-");
      expect(plan.outputs.hyperdriveBudget).toMatchObject({ thisStack: 6, committedTotal: 12, accountLimit: 25 });
      const [ruleset] = resources(plan, "cloudflare:index/ruleset:Ruleset");
      expect(ruleset!.inputs).toMatchObject({ phase: "http_response_headers_transform", kind: "zone" });
      expect((ruleset!.inputs.rules as unknown[]).length).toBe(5);
    });
  }

  it("pr-42: one shared Hyperdrive config within the documented budget, no zone ruleset, pr-42 names", () => {
    const plan = plans["pr-42"]!;
    const configs = resources(plan, HD);
    expect(configs.map((c) => c.name)).toEqual(["mauntic-pr-42-shared-db"]);
    expect(configs[0]!.inputs.caching).toEqual({ disabled: true });
    expect((configs[0]!.inputs.origin as { password: string }).password).toBe("[secret]");
    const budget = plan.outputs.hyperdriveBudget as Record<string, unknown>;
    expect(budget).toMatchObject({
      thisStack: 1,
      previewConfigsEach: 1,
      committed: { dev: 6, prod: 6 },
      previewSlots: 13,
    });
    expect(budget.strategy).toMatch(/one shared Hyperdrive config per preview stack/);
    expect((budget.thisStack as number) <= (budget.accountLimit as number) - (budget.committedTotal as number)).toBe(
      true,
    );
    expect(resources(plan, "cloudflare:index/ruleset:Ruleset")).toEqual([]);
    expect(plan.outputs.cacheHeaders).toEqual({ owner: false, zone: "mauntic.dev" });
    expect(resources(plan, "cloudflare:index/r2CustomDomain:R2CustomDomain")[0]!.inputs.domain).toBe(
      "pr-42-assets.mauntic.dev",
    );
    const bindings = plan.outputs.bindings as Record<string, { hyperdrive: { binding: string; id: string }[] }>;
    for (const w of ["identity", "crm", "delivery", "analytics", "journey"]) {
      expect(new Set(bindings[w]!.hyperdrive.map((h) => h.id))).toEqual(new Set(["mauntic-pr-42-shared-db-id"]));
    }
    expect(bindings.analytics!.hyperdrive.map((h) => h.binding)).toEqual(["DB", "DB_REPLICA"]);
  });

  it("two stack files claiming one zone's ruleset: exit 2, naming both", async () => {
    const devYaml = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    const prodZone = /zoneId: ([0-9a-f]{32})/.exec(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"))![1]!;
    const claim = path.join(tmp, "claims-prod-zone.yaml");
    fs.writeFileSync(claim, devYaml.replace(/zoneId: [0-9a-f]{32}/, `zoneId: ${prodZone}`));
    const r = await runCli(["plan", "--stack", "dev", "--config-file", claim]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`(${prodZone}) is claimed by Pulumi.prod.yaml and the config given for stack dev`);
    expect(r.stderr).toContain("allowed: true in exactly one stack file per zone");
  });
});

describe("bindings", () => {
  it("--out writes one JSON and one TOML fragment per worker with the plan's ids, and the cache catalog", async () => {
    const out = path.join(tmp, "wrangler");
    const r = await runCli(["bindings", "--stack", "dev", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const plan = plans.dev!;
    const workers = Object.keys(plan.outputs.bindings as object);
    expect(workers.sort()).toEqual(["analytics", "content", "crm", "delivery", "identity", "journey"]);
    expect(fs.readdirSync(out).sort()).toEqual(
      ["cache-catalog.ts", ...workers.flatMap((w) => [`${w}.wrangler.json`, `${w}.wrangler.toml`])].sort(),
    );

    const hyperdrive = plan.outputs.hyperdrive as { name: string; role: string; workers: string[]; id: string }[];
    const kvId = (plan.outputs.kvCatalog as Record<string, { namespaceId: string }>).session!.namespaceId;
    const bucketNames = new Set(resources(plan, "cloudflare:index/r2Bucket:R2Bucket").map((b) => b.inputs.name));
    const declared = new Set(resources(plan, HD).map((c) => c.inputs.name));
    for (const w of workers) {
      const json = JSON.parse(fs.readFileSync(path.join(out, `${w}.wrangler.json`), "utf8"));
      const toml = parseToml(fs.readFileSync(path.join(out, `${w}.wrangler.toml`), "utf8"));
      expect(toml).toEqual(json);
      const mine = hyperdrive.filter((h) => h.workers.includes(w));
      const want = [
        ...mine.filter((h) => h.role === "primary").map((h) => ({ binding: "DB", id: h.id })),
        ...mine.filter((h) => h.role === "replica").map((h) => ({ binding: "DB_REPLICA", id: h.id })),
      ];
      expect(json.hyperdrive ?? []).toEqual(want);
      for (const h of mine) expect(declared.has(h.name)).toBe(true);
      expect(json.kv_namespaces).toEqual([{ binding: "CACHE", id: kvId }]);
      for (const b of json.r2_buckets ?? []) expect(bucketNames.has(b.bucket_name)).toBe(true);
    }
    expect(JSON.parse(fs.readFileSync(path.join(out, "content.wrangler.json"), "utf8")).r2_buckets).toEqual([
      { binding: "ASSETS_BUCKET", bucket_name: "mauntic-dev-assets" },
    ]);
    const catalog = fs.readFileSync(path.join(out, "cache-catalog.ts"), "utf8");
    expect(catalog).toContain('entry<{ orgId: string; channel: string }>("provider:{orgId}:{channel}", 300, "CACHE"');
  });

  it("--from-stack-output takes the real ids of a deployed stack; --local-connection-string reaches every DB binding", async () => {
    const outputs = structuredClone(plans.dev!.outputs) as Record<string, any>;
    const real = (s: string) => Buffer.from(s).toString("hex").slice(0, 32).padEnd(32, "0");
    for (const b of Object.values<any>(outputs.bindings)) {
      for (const h of b.hyperdrive) h.id = real(h.id);
      for (const k of b.kvNamespaces) k.id = real(k.id);
    }
    const file = path.join(tmp, "dev-outputs.json");
    fs.writeFileSync(file, JSON.stringify(outputs));
    const local = "postgresql://postgres:postgres@localhost:5432/mauntic";
    const r = await runCli([
      "bindings",
      "--stack",
      "dev",
      "--from-stack-output",
      file,
      "--local-connection-string",
      local,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const fragments = JSON.parse(r.stdout);
    expect(fragments.analytics.hyperdrive).toEqual([
      { binding: "DB", id: real("mauntic-dev-analytics-db-id"), localConnectionString: local },
      { binding: "DB_REPLICA", id: real("mauntic-dev-analytics-replica-db-id"), localConnectionString: local },
    ]);
    expect(fragments.crm.kv_namespaces).toEqual([{ binding: "CACHE", id: real("mauntic-dev-cache-id") }]);
  });

  it("bad input exits 2 with the reason: a non-Postgres local URL, outputs without bindings", async () => {
    const bad = await runCli(["bindings", "--stack", "dev", "--local-connection-string", "mysql://x@y/z"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--local-connection-string "mysql:\/\/x@y\/z" is not a Postgres URL/);
    const file = path.join(tmp, "no-bindings.json");
    fs.writeFileSync(file, JSON.stringify({ stack: "dev" }));
    const missing = await runCli(["bindings", "--stack", "dev", "--from-stack-output", file]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/lacks usable stack outputs: 'bindings': missing; 'kvCatalog': missing/);
  });
});
