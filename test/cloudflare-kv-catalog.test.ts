import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { cacheCatalog, cacheKey, renderCatalogModule } from "../infra/cloudflare/cache-catalog";
import { ConfigError } from "../infra/config/errors";
import { loadStackConfigFromFile, parseStackConfig, readStackFile, stackFilePath } from "../infra/config/load";

/** The platform notes' "KV Cache Strategy" table: pattern and TTL. */
const NOTES_KV = [
  ["org:{orgId}", 5 * 60],
  ["plan:{planId}", 60 * 60],
  ["session:{token}", 15 * 60],
  ["provider:{orgId}:{channel}", 5 * 60],
  ["suppressed:{orgId}:{emailHash}", 10 * 60],
  ["usage:{orgId}:{resource}", 60],
  ["template:{orgId}:{templateId}", 5 * 60],
] as const;

const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe("the KV cache catalog", () => {
  for (const stack of ["dev", "prod"]) {
    it(`${stack}: the notes' key patterns and TTLs, each in the CACHE namespace with its invalidation`, () => {
      const catalog = cacheCatalog(loadStackConfigFromFile(stack));
      expect(Object.values(catalog).map((e) => [e.pattern, e.ttlSeconds])).toEqual(NOTES_KV.map((x) => [...x]));
      for (const e of Object.values(catalog)) {
        expect(e.binding).toBe("CACHE");
        expect(e.invalidatedOn.length).toBeGreaterThan(0);
      }
      expect(catalog.provider!.params).toEqual(["orgId", "channel"]);
      expect(catalog.session!.invalidatedOn).toEqual(["session.logout", "session.revoked"]);
    });
  }

  it("a TTL below KV's 60-second minimum is a config error naming the entry", () => {
    const raw = readStackFile(stackFilePath("dev"));
    const kv = structuredClone(raw.values.kv) as { catalog: Record<string, { ttlSeconds: number }> };
    kv.catalog.usage!.ttlSeconds = 59;
    kv.catalog.org!.ttlSeconds = 0;
    let error: unknown;
    try {
      parseStackConfig("dev", { ...raw.values, kv }, "Pulumi.dev.yaml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toContain("config.mauntic-infra:kv.catalog.usage.ttlSeconds: 59 is too small (allowed: >= 60)");
    expect(problems).toContain("config.mauntic-infra:kv.catalog.org.ttlSeconds: 0 is too small (allowed: >= 60)");
  });

  it("cacheKey() fills the pattern and refuses values that would make keys ambiguous", () => {
    expect(cacheKey("provider:{orgId}:{channel}", { orgId: "o1", channel: "email" })).toBe("provider:o1:email");
    expect(() => cacheKey("provider:{orgId}:{channel}", { orgId: "o1:x", channel: "email" })).toThrow(
      /orgId is "o1:x" \(allowed: a non-empty string without ':'\)/,
    );
    expect(() => cacheKey("org:{orgId}", {})).toThrow(/orgId is undefined/);
    expect(() => cacheKey("org:{orgId}", { orgId: "x".repeat(600) })).toThrow(/allowed: at most 512/);
  });

  it("the generated module type-checks under strict TypeScript, types each key's parameters, and builds keys", () => {
    const catalog = cacheCatalog(loadStackConfigFromFile("dev"));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-catalog-"));
    tmpDirs.push(dir);
    const moduleText = renderCatalogModule(catalog, "stack dev");
    fs.writeFileSync(path.join(dir, "cache-catalog.ts"), moduleText);
    fs.writeFileSync(
      path.join(dir, "worker.ts"),
      `import { cacheCatalog, type CacheEntryName } from "./cache-catalog";
export const key: string = cacheCatalog.provider.key({ orgId: "o", channel: "email" });
export const ttl: number = cacheCatalog.session.ttlSeconds;
export const name: CacheEntryName = "suppressed";
// @ts-expect-error channel is required
cacheCatalog.provider.key({ orgId: "o" });
// @ts-expect-error no such entry
cacheCatalog.nope;
`,
    );
    const program = ts.createProgram([path.join(dir, "worker.ts")], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.es2022.d.ts", "lib.webworker.d.ts"],
      types: [],
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(diagnostics).toEqual([]);

    const js = ts.transpileModule(moduleText, { compilerOptions: { module: ts.ModuleKind.CommonJS } }).outputText;
    const exports: Record<string, any> = {};
    new Function("exports", js)(exports);
    const generated = exports.cacheCatalog;
    for (const [name, e] of Object.entries(catalog)) {
      expect(generated[name].ttlSeconds).toBe(e.ttlSeconds);
      expect(generated[name].binding).toBe("CACHE");
      const values = Object.fromEntries(e.params.map((p, i) => [p, `v${i}`]));
      expect(generated[name].key(values)).toBe(cacheKey(e.pattern, values));
    }
    expect(() => generated.suppressed.key({ orgId: "o", emailHash: "" })).toThrow(/emailHash is ""/);
  });
});
