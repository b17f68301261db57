import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { POLICIES } from "../policies/all";
import { configFile, ENVIRONMENTS, render } from "../policies/pack-config";
import { ROOT } from "./helpers/cli";

const POLICIES_DIR = path.join(ROOT, "policies");

describe("the policy pack's files", () => {
  it("one file per policy, named after it, metadata complete, names unique", () => {
    const files = fs.readdirSync(POLICIES_DIR).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
    for (const p of POLICIES) {
      expect(files, p.name).toContain(`${p.name}.ts`);
      expect(fs.existsSync(path.join(POLICIES_DIR, `${p.name}.test.ts`)), `${p.name}.test.ts`).toBe(true);
      expect(p.meta.name).toBe(p.name);
      for (const k of ["description", "why", "remediation"] as const)
        expect(p.meta[k].length, `${p.name} ${k}`).toBeGreaterThan(20);
      for (const env of ENVIRONMENTS) expect(["advisory", "mandatory", "disabled"]).toContain(p.meta.enforcement[env]);
      // A pack run with no config uses the policy's own level: prod's, the strictest.
      expect(p.enforcementLevel).toBe(p.meta.enforcement.prod);
    }
    expect(new Set(POLICIES.map((p) => p.name)).size).toBe(POLICIES.length);
  });

  it("the committed pack configs are what the metadata says (npx tsx policies/pack-config.ts)", () => {
    for (const env of ENVIRONMENTS) expect(fs.readFileSync(configFile(env), "utf8"), env).toBe(render(env));
  });

  it("PulumiPolicy.yaml names the nodejs runtime; package.json gives the version and the TypeScript entry", () => {
    const project = YAML.parse(fs.readFileSync(path.join(POLICIES_DIR, "PulumiPolicy.yaml"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(project.runtime).toBe("nodejs");
    // The fields the CLI reads (sdk/go/common/workspace/project.go PolicyPackProject): runtime, version, main, description...
    for (const k of Object.keys(project))
      expect(["runtime", "version", "main", "description", "author", "website", "license"]).toContain(k);
    const pkg = JSON.parse(fs.readFileSync(path.join(POLICIES_DIR, "package.json"), "utf8")) as {
      version: string;
      main: string;
    };
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(fs.existsSync(path.join(POLICIES_DIR, pkg.main))).toBe(true); // run-policy-pack refuses a missing main
  });

  it("the README says what each policy guards", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    for (const p of POLICIES) expect(readme, p.name).toContain(`| \`${p.name}\` | ${p.meta.description} |`);
    expect(readme).toContain("--policy-pack policies --policy-pack-config policies/config/prod.json");
  });
});
