/**
 * The Cloudflare part through the CLI, as a user runs it: `plan --json` for dev, prod and a preview, the zone-claim
 * conflict, `bindings` fragments checked against the plan's ids, prod's protection and a preview's destroy order
 * played against the local R2 fake.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rulesetImportFile, type ImportFile } from "../infra/cloudflare/ruleset-import";
import type { Plan, PlanResource } from "../infra/offline/plan";
import { FakeCloudflareApi } from "./fakes/cloudflare-api";
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
      const [ruleset, settings, ...more] = resources(plan, "cloudflare:index/ruleset:Ruleset");
      expect(more).toEqual([]);
      // Zone rules only for the tier R2 serves straight through the cache (uploads, on the assets custom domain).
      expect(ruleset!.inputs).toMatchObject({ phase: "http_response_headers_transform", kind: "zone" });
      expect((ruleset!.inputs.rules as { ref: string }[]).map((r) => r.ref)).toEqual([`mauntic-${stack}-tier-uploads`]);
      expect(settings!.inputs).toMatchObject({ phase: "http_request_cache_settings", kind: "zone" });
      const edge = Object.fromEntries(
        (settings!.inputs.rules as { ref: string; action: string; actionParameters: any }[]).map((r) => [
          r.ref.replace(`mauntic-${stack}-edge-`, ""),
          [r.action, r.actionParameters.cache, r.actionParameters.edgeTtl?.mode, r.actionParameters.edgeTtl?.default],
        ]),
      );
      expect(edge).toEqual({ uploads: ["set_cache_settings", true, "override_origin", 86400] });
      expect(plan.outputs.cacheSettings).toMatchObject({
        owner: true,
        rulesetId: `mauntic-${stack}-cache-settings-id`,
        tiers: ["uploads"],
      });
      // Only previews empty buckets.
      expect(resources(plan, "command:local:Command").map((c) => c.name)).toEqual([`mauntic-${stack}-migrations-run`]);
    });
  }

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: per tier, where it takes effect (zone rules or Worker settings) and what a browser and the edge get`, () => {
      const plan = plans[stack]!;
      type Rule = { description: string; actionParameters: any };
      const zone = (phase: string) =>
        (resources(plan, "cloudflare:index/ruleset:Ruleset").find((r) => r.inputs.phase === phase)?.inputs.rules ??
          []) as Rule[];
      const tierOf = (r: Rule) => /^cache tier ([a-z-]+)/.exec(r.description)![1]!;
      const edgeCache = plan.outputs.edgeCache as Record<string, Record<string, any>>;
      const where: Record<string, { at: string[]; browser: string[]; edgeTtl: (number | null)[] }> = {};
      const add = (tier: string, at: string, browser: string, edgeTtl: number | null) => {
        const w = (where[tier] ??= { at: [], browser: [], edgeTtl: [] });
        w.at.push(at);
        if (!w.browser.includes(browser)) w.browser.push(browser);
        if (!w.edgeTtl.includes(edgeTtl)) w.edgeTtl.push(edgeTtl);
      };
      const cacheRules = zone("http_request_cache_settings");
      for (const h of zone("http_response_headers_transform")) {
        const c = cacheRules.find((r) => tierOf(r) === tierOf(h))!;
        add(
          tierOf(h),
          "zone rules",
          h.actionParameters.headers["Cache-Control"].value,
          c.actionParameters.cache ? c.actionParameters.edgeTtl.default : null,
        );
      }
      for (const [worker, tiers] of Object.entries(edgeCache)) {
        for (const [tier, t] of Object.entries(tiers)) {
          // What the Worker's fetch() stores a 200 for at the edge: cf.cacheTtlByStatus (negative: not stored).
          const ttl = t.cf.cacheTtlByStatus["200"] ?? t.cf.cacheTtlByStatus["100-599"];
          add(tier, `worker ${worker}`, t.headers["Cache-Control"], ttl < 0 ? null : ttl);
          expect(t.edgeTtlSeconds).toBe(ttl < 0 ? null : ttl);
        }
      }
      // Every Worker routes the API host (`plan --json` lists the output's workers by name).
      const api = ["analytics", "content", "crm", "delivery", "identity", "journey"].map((w) => `worker ${w}`);
      expect(where).toEqual({
        uploads: { at: ["zone rules"], browser: ["public, max-age=31536000, immutable"], edgeTtl: [86400] },
        "landing-html": { at: ["worker content"], browser: ["public, max-age=300"], edgeTtl: [60] },
        "tracking-pixel": { at: ["worker delivery"], browser: ["no-cache, no-store"], edgeTtl: [null] },
        "template-previews": { at: api, browser: ["private, no-cache"], edgeTtl: [null] },
        "api-responses": { at: api, browser: ["private, no-store"], edgeTtl: [null] },
      });
      // The landing tier's Worker settings: its headers hold on a 304 (never tied to a Content-Type), and the edge
      // stores 200 and 206 for 60 s and nothing else.
      const landing = edgeCache.content!["landing-html"];
      expect(landing.headerStatuses).toEqual([200, 206, 304]);
      expect(landing.headers).toEqual({ "Cache-Control": "public, max-age=300", "CDN-Cache-Control": "max-age=60" });
      expect(landing.cf).toEqual({
        cacheEverything: true,
        cacheTtlByStatus: { "200": 60, "206": 60, "201-205": -1, "207-303": -1, "305-599": -1 },
      });
    });
  }

  it("prod: every R2 bucket (with its lifecycle, CORS, custom domain) and the KV namespace protected and retained", () => {
    const kept = (plan: Plan) =>
      plan.resources
        .filter((r) => /cloudflare:index\/(r2|workersKvNamespace)/.test(r.type))
        .map((r) => [r.name, r.protect, r.retainOnDelete]);
    const prod = kept(plans.prod!);
    expect(prod.map(([n]) => n).sort()).toEqual(
      [
        "mauntic-prod-assets",
        "mauntic-prod-assets-cors",
        "mauntic-prod-assets-domain",
        "mauntic-prod-assets-lifecycle",
        "mauntic-prod-cache",
        "mauntic-prod-imports",
        "mauntic-prod-imports-cors",
        "mauntic-prod-imports-lifecycle",
      ].sort(),
    );
    for (const r of prod) expect(r).toEqual([r[0], true, true]);
    // dev and previews stay disposable.
    for (const r of [...kept(plans.dev!), ...kept(plans["pr-42"]!)]) expect(r).toEqual([r[0], false, false]);
  });

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

  it("pr-42 destroy: each bucket's emptier runs before the bucket, its lifecycle, CORS and domain go", async () => {
    const plan = plans["pr-42"]!;
    const order = destroyOrder(plan.resources).filter((r) => r.urn.includes("AssetBuckets$"));
    const names = order.map((r) => r.name);
    for (const b of ["mauntic-pr-42-assets", "mauntic-pr-42-imports"]) {
      const attached = names.filter((n) => n.startsWith(`${b}-`) && n !== `${b}-empty`);
      expect(attached.length).toBeGreaterThanOrEqual(2);
      for (const n of [...attached, b]) expect(names.indexOf(`${b}-empty`)).toBeLessThan(names.indexOf(n));
    }

    // Played against the R2 fake: the engine's order, each step doing what its provider does on delete.
    const fake = new FakeCloudflareApi();
    const baseUrl = await fake.start();
    try {
      fake.addBucket("mauntic-pr-42-assets", ["u/1.png", "u/2.png", "landing/x.html"]);
      fake.addBucket("mauntic-pr-42-imports", ["imports/contacts.csv"]);
      fake.addBucket("mauntic-dev-assets", ["u/keep.png"]);
      for (const r of order) {
        if (r.type === "command:local:Command") {
          expect(r.inputs.delete).toBe("./node_modules/.bin/tsx infra/cli/main.ts r2-empty");
          const [cmd, ...args] = (r.inputs.delete as string).split(" ");
          expect(cmd).toBe("./node_modules/.bin/tsx");
          const env = r.inputs.environment as Record<string, string>;
          const run = await runCli(args.slice(1), {
            env: { ...env, CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl },
          });
          expect(run.code, run.stderr).toBe(0);
        } else if (r.type === "cloudflare:index/r2Bucket:R2Bucket") {
          const res = await fetch(`${baseUrl}/accounts/${r.inputs.accountId}/r2/buckets/${r.inputs.name}`, {
            method: "DELETE",
            headers: { authorization: `Bearer ${fake.token}` },
          });
          expect({ bucket: r.name, status: res.status }).toEqual({ bucket: r.name, status: 200 });
        }
      }
      expect(fake.objects("mauntic-pr-42-assets")).toBeUndefined();
      expect(fake.objects("mauntic-pr-42-imports")).toBeUndefined();
      expect(fake.objects("mauntic-dev-assets")).toEqual(["u/keep.png"]);
    } finally {
      await fake.stop();
    }
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

describe("ruleset-import: adopting a zone's existing entrypoints where the program declares them", () => {
  const ID = "0123456789abcdef0123456789abcdef";

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: each imported ruleset has the plan's name, type and parent component (created or from state)`, async () => {
      const plan = plans[stack]!;
      const r = await runCli(["ruleset-import", "--stack", stack, "--cache-headers", ID, "--cache-settings", ID]);
      expect(r.code, r.stderr).toBe(0);
      const file = JSON.parse(r.stdout) as ImportFile;
      const byName = new Map(file.resources.map((x) => [x.name, x]));
      const rulesets = file.resources.filter((x) => x.type === "cloudflare:index/ruleset:Ruleset");
      expect(rulesets).toHaveLength(2);
      const zoneId = resources(plan, "cloudflare:index/ruleset:Ruleset")[0]!.inputs.zoneId as string;
      for (const imported of rulesets) {
        expect(imported.id).toBe(`zones/${zoneId}/${ID}`);
        const declared = plan.resources.find((x) => x.type === imported.type && x.name === imported.logicalName)!;
        expect(declared, imported.logicalName).toBeDefined();
        const parent = byName.get(imported.parent!)!;
        const component = plan.resources.find((x) => x.urn === declared.parent)!;
        expect([parent.type, parent.logicalName, parent.component]).toEqual([component.type, component.name, true]);
      }
      // Already deployed: the parents are the components' URNs in state.
      const existing = rulesetImportFile(
        stack,
        "mauntic-infra",
        zoneId,
        { "cache-settings": ID },
        { componentsExist: true },
      );
      const [only] = existing.resources;
      const declared = plan.resources.find((x) => x.name === only!.logicalName && x.type === only!.type)!;
      expect(existing.nameTable).toEqual({ [only!.parent!]: declared.parent });
    });
  }

  it("a preview owns no zone ruleset; a ruleset id must be one: exit 2", async () => {
    const preview = await runCli(["ruleset-import", "--stack", "pr-42", "--cache-headers", ID]);
    expect(preview.code).toBe(2);
    expect(preview.stderr).toContain("does not own zone mauntic.dev's rulesets");
    const bad = await runCli(["ruleset-import", "--stack", "dev", "--cache-headers", "zones/x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("ruleset id 'zones/x' is not valid");
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
      [
        "cache-catalog.ts",
        ...workers.flatMap((w) => [`${w}.wrangler.json`, `${w}.wrangler.toml`, `${w}.edge-cache.ts`]),
      ].sort(),
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
    // Each worker's edge-cache module: strict TypeScript without imports, and the landing tier's headers on a 304
    // (a response without Content-Type) but not on a 404.
    const modules = workers.map((w) => path.join(out, `${w}.edge-cache.ts`));
    const program = ts.createProgram(modules, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2022.d.ts"],
      types: [],
    });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual(
      [],
    );
    const content = (await import(path.join(out, "content.edge-cache.ts"))) as {
      cacheHeaders: (tier: string, status: number) => Record<string, string | null>;
      edgeCache: Record<string, { cf: unknown }>;
    };
    expect(content.cacheHeaders("landing-html", 304)).toEqual({
      "Cache-Control": "public, max-age=300",
      "CDN-Cache-Control": "max-age=60",
    });
    expect(content.cacheHeaders("landing-html", 404)).toEqual({});
    expect(content.cacheHeaders("api-responses", 404)).toEqual({
      "Cache-Control": "private, no-store",
      "CDN-Cache-Control": null,
    });
    expect(content.edgeCache["template-previews"]!.cf).toEqual({ cacheTtlByStatus: { "100-599": -1 } });
    expect(fs.readFileSync(path.join(out, "identity.edge-cache.ts"), "utf8")).toContain("from stack dev");
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
    expect(missing.stderr).toMatch(
      /lacks usable stack outputs: 'bindings': missing; 'kvCatalog': missing; 'edgeCache': missing \(a stack deployed before/,
    );
  });
});

/**
 * The order `pulumi destroy` deletes custom resources in: a resource goes only after every resource that depends on
 * it (the engine deletes dependents first); ties keep the plan's order.
 */
function destroyOrder(all: PlanResource[]): PlanResource[] {
  const custom = all.filter((r) => r.custom && !r.read);
  const known = new Set(custom.map((r) => r.urn));
  const dependents = new Map<string, string[]>();
  for (const r of custom) {
    for (const d of r.dependsOn) if (known.has(d)) dependents.set(d, [...(dependents.get(d) ?? []), r.urn]);
  }
  const done = new Set<string>();
  const order: PlanResource[] = [];
  while (order.length < custom.length) {
    const ready = custom.filter((r) => !done.has(r.urn) && (dependents.get(r.urn) ?? []).every((u) => done.has(u)));
    if (ready.length === 0) throw new Error("dependency cycle");
    for (const r of ready) {
      done.add(r.urn);
      order.push(r);
    }
  }
  return order;
}
