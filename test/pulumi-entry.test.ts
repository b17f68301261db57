/**
 * What `pulumi up` does before any resource: read Pulumi.yaml, load `main` through ts-node (type-checking, as the
 * nodejs language host does when tsconfig has no `noCheck`), and call the default export. No Pulumi CLI exists on
 * this machine, so this test stands in for the language host's loading step.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli";

describe("the Pulumi entry point", () => {
  const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    name: string;
    runtime: { name: string; options: { typescript: boolean; tsconfig?: string } };
    main?: string;
  };
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;

  it("Pulumi.yaml names a TypeScript nodejs program whose main exists; the project is CommonJS", () => {
    expect(project.name).toBe("mauntic-infra");
    expect(project.runtime).toEqual({
      name: "nodejs",
      options: { typescript: true, tsconfig: "tsconfig.pulumi.json", packagemanager: "npm" },
    });
    // No `main`: the engine's working directory for the program and every plugin is the project root
    // (pulumi pkg/engine/project.go getPwdMain: main's folder otherwise), and Node loads package.json's main.
    expect(project.main).toBeUndefined();
    expect(fs.existsSync(path.join(ROOT, String(pkg.main)))).toBe(true);
    // Dynamic providers are serialized by Pulumi's closure serializer, which needs CommonJS.
    expect(pkg.type ?? "commonjs").toBe("commonjs");
  });

  it("main loads under ts-node with type checking and exports the program function", () => {
    const script = `
      require("ts-node").register({ compiler: "typescript", transpileOnly: false, project: "tsconfig.json", compilerOptions: {} });
      const program = require(".");
      process.stdout.write(typeof program);
    `;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("function");
  });
});

describe("the language host's own loading (Pulumi.yaml runtime.options.tsconfig)", () => {
  it("transpile-only from tsconfig.pulumi.json's noCheck, with the project's TypeScript, and main exports the program", () => {
    // As @pulumi/pulumi cmd/run/run.js: project typescript/ts-node over the vendored ones, the tsconfig's
    // compilerOptions over its defaults, `noCheck` deciding transpileOnly.
    const script = `
      const tsutils = require("@pulumi/pulumi/tsutils");
      const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
      const compilerOptions = tsutils.loadTypeScriptCompilerOptions("tsconfig.pulumi.json");
      require(tsnodeRequire).register({
        compiler: typescriptRequire, transpileOnly: compilerOptions.noCheck, project: "tsconfig.pulumi.json", skipProject: false,
        compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...compilerOptions },
      });
      const program = require(".");
      process.stdout.write(JSON.stringify({ ts: typescriptRequire, tsnode: tsnodeRequire, transpileOnly: compilerOptions.noCheck, program: typeof program }));
    `;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      ts: "typescript",
      tsnode: "ts-node",
      transpileOnly: true,
      program: "function",
    });
  });
});
