/**
 * Proves a production install runs the deploy: copies the committed files to a temporary folder, runs
 * `npm ci --omit=dev` there (needs the npm registry or a warm npm cache), then
 *   1. the post-deploy command line starts: `./node_modules/.bin/tsx infra/cli/main.ts migrate --help` (and the
 *      preview bucket emptier's `r2-empty --help`), exactly as the Commands run them;
 *   2. the program loads under ts-node the way Pulumi's Node.js language host loads it (@pulumi/pulumi
 *      cmd/run/run.js: `tsutils.typeScriptRequireStrings()` picks the project's `typescript`/`ts-node` over the
 *      vendored TypeScript 3.8, Pulumi.yaml's `runtime.options.tsconfig` becomes the ts-node project, its
 *      `noCheck` decides transpile-only), and the program runs to a full plan under Pulumi's mocks.
 * Prints one line per check with its time; exit 0 when all pass, 1 otherwise. Slow (a full install), so a script
 * rather than a test: `npx tsx bench/runtime-deps.ts [--keep]`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

const ROOT = path.resolve(__dirname, "..");

export interface Check {
  name: string;
  ok: boolean;
  seconds: number;
  detail: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, FORCE_COLOR: "0", ...env }, encoding: "utf8" });
  return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, seconds: (Date.now() - started) / 1000 };
}

/** The committed files (what a CI checkout has), copied as they are in the working tree. */
function copyCheckout(to: string): number {
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  let n = 0;
  for (const f of files) {
    const from = path.join(ROOT, f);
    if (!fs.existsSync(from)) continue;
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.copyFileSync(from, path.join(to, f));
    n++;
  }
  return n;
}

/** Loads and runs the program as Pulumi's language host would, from the production install in `dir`. */
const LOADER = `
const path = require("path");
const YAML = require("yaml");
const fs = require("fs");
const tsutils = require("@pulumi/pulumi/tsutils");
const project = YAML.parse(fs.readFileSync("Pulumi.yaml", "utf8"));
const tsConfigPath = (project.runtime.options || {}).tsconfig || "tsconfig.json";
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
if (typescriptRequire !== "typescript" || tsnodeRequire !== "ts-node") {
  throw new Error("Pulumi would use its vendored " + typescriptRequire + " / " + tsnodeRequire);
}
const ts = require(typescriptRequire);
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
require(tsnodeRequire).register({
  compiler: typescriptRequire,
  transpileOnly: compilerOptions.noCheck,
  project: tsConfigPath,
  skipProject: !fs.existsSync(tsConfigPath),
  compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...compilerOptions },
});
const program = require(path.resolve(project.main ?? "."));
if (typeof program !== "function") throw new Error("the program's default export is not a function");
require("./infra/offline/engine.ts").runOffline("dev").then((plan) => {
  console.log(JSON.stringify({ typescript: ts.version, tsconfig: tsConfigPath, transpileOnly: !!compilerOptions.noCheck, resources: plan.resources.length }));
}, (e) => { console.error(e && e.stack || e); process.exit(1); });
`;

export function checkRuntimeDeps(opts: { keep?: boolean; log?: (line: string) => void } = {}): Check[] {
  const log = opts.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-prod-install-"));
  const checks: Check[] = [];
  try {
    const files = copyCheckout(dir);
    log(`copied ${files} committed files to ${dir}`);
    const install = run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], dir);
    checks.push({
      name: "npm ci --omit=dev",
      ok: install.code === 0,
      seconds: install.seconds,
      detail: install.code === 0 ? "" : install.out.slice(-2000),
    });
    if (install.code !== 0) return checks;
    // Some @types arrive with runtime packages (ts-node, protobufjs), so the proof that dev dependencies were left
    // out is the test runner's absence.
    const vitest = fs.existsSync(path.join(dir, "node_modules", "vitest"));
    checks.push({
      name: "devDependencies left out (no vitest)",
      ok: !vitest,
      seconds: 0,
      detail: vitest ? "vitest installed" : "",
    });
    for (const [name, args] of [
      ["post-deploy: tsx infra/cli/main.ts migrate --help", ["infra/cli/main.ts", "migrate", "--help"]],
      ["preview destroy: tsx infra/cli/main.ts r2-empty --help", ["infra/cli/main.ts", "r2-empty", "--help"]],
    ] as const) {
      const r = run("./node_modules/.bin/tsx", [...args], dir);
      const ok = r.code === 0 && /Usage: mauntic-infra/.test(r.out);
      checks.push({ name, ok, seconds: r.seconds, detail: ok ? "" : r.out.slice(-2000) });
    }
    fs.writeFileSync(path.join(dir, "load-program.js"), LOADER);
    const load = run(process.execPath, ["load-program.js"], dir);
    const last = load.out.trim().split("\n").at(-1) ?? "";
    checks.push({
      name: "program under ts-node (Pulumi's loader), offline plan of dev",
      ok: load.code === 0 && last.startsWith("{"),
      seconds: load.seconds,
      detail: load.code === 0 ? last : load.out.slice(-3000),
    });
    return checks;
  } finally {
    if (opts.keep) log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const started = Date.now();
  const checks = checkRuntimeDeps({ keep: process.argv.includes("--keep"), log: (l) => console.error(l) });
  for (const c of checks) {
    console.log(
      `${c.ok ? "ok  " : "FAIL"} ${c.name} (${c.seconds.toFixed(1)} s)${c.detail ? `\n     ${c.detail.replace(/\n/g, "\n     ")}` : ""}`,
    );
  }
  const ok = checks.length >= 5 && checks.every((c) => c.ok);
  console.log(`${ok ? "all passed" : "FAILED"} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(ok ? 0 : 1);
}
