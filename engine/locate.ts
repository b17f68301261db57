/**
 * Where the real Pulumi engine is: a `pulumi` on PATH (the user's own install), else the build `npm run engine` made
 * from the Go module proxy, cached outside the clone and keyed by what it is built from.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";

export const ENGINE_DIR = resolve(__dirname);
export const REPO_ROOT = resolve(__dirname, "..");

/** The engine version: the pkg/v3 release engine/go.mod requires (the @pulumi/pulumi line this project pins). */
export function engineVersion(): string {
  const gomod = readFileSync(join(ENGINE_DIR, "go.mod"), "utf8");
  const m = /github\.com\/pulumi\/pulumi\/pkg\/v3 (v\d+\.\d+\.\d+)/.exec(gomod);
  if (!m) throw new Error("engine/go.mod requires no github.com/pulumi/pulumi/pkg/v3 version");
  return m[1]!;
}

/** The build's cache key: the version and a digest of every file the build reads from this repository. */
export function buildKey(): string {
  const hash = createHash("sha256");
  const files = ["go.mod", "go.sum", "tools.go", ...sourcesUnder("cmd")];
  for (const f of files.sort()) {
    hash.update(f).update("\0");
    if (existsSync(join(ENGINE_DIR, f))) hash.update(readFileSync(join(ENGINE_DIR, f)));
  }
  return `${engineVersion()}-${hash.digest("hex").slice(0, 12)}`;
}

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ENGINE_DIR, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourcesUnder(rel));
    else if (e.name.endsWith(".go")) out.push(rel);
  }
  return out;
}

/** `$MAUNTIC_ENGINE_CACHE`, else `$XDG_CACHE_HOME/mauntic-infra/engine`, else `~/.cache/mauntic-infra/engine`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MAUNTIC_ENGINE_CACHE) return resolve(env.MAUNTIC_ENGINE_CACHE);
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "mauntic-infra", "engine");
}

export interface Engine {
  /** Folder holding `bin/pulumi` (what the Automation API's `PulumiCommand.get({ root })` takes). */
  root: string;
  /** Folder holding `pulumi` and its bundled plugins: the one to put first on PATH. */
  bin: string;
  /** `pulumi version` of that CLI, e.g. `v3.248.0`. */
  version: string;
  source: "path" | "built";
}

/** The folder of the cached build for this checkout (it may not exist yet). */
export function builtRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), buildKey());
}

const BUILT_FILES = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"];

/** The engine to use, or undefined: a `pulumi` on PATH wins (unless MAUNTIC_ENGINE=built), then the cached build. */
export function findEngine(env: NodeJS.ProcessEnv = process.env): Engine | undefined {
  if (env.MAUNTIC_ENGINE !== "built") {
    for (const dir of (env.PATH ?? "").split(delimiter)) {
      if (dir && existsSync(join(dir, "pulumi")) && !dir.startsWith(cacheRoot(env))) {
        return { root: resolve(dir, ".."), bin: dir, version: pulumiVersion(join(dir, "pulumi")), source: "path" };
      }
    }
  }
  const root = builtRoot(env);
  const bin = join(root, "bin");
  if (BUILT_FILES.every((f) => existsSync(join(bin, f)))) {
    return { root, bin, version: pulumiVersion(join(bin, "pulumi")), source: "built" };
  }
  return undefined;
}

/** The engine, or why there is none in words a user can act on (for every caller that may run without one). */
export function engineOrReason(env: NodeJS.ProcessEnv = process.env): { engine: Engine } | { reason: string } {
  try {
    const engine = findEngine(env);
    if (engine) return { engine };
    return {
      reason:
        "no Pulumi CLI on PATH and no engine build: `npm run engine` builds one from the Go module proxy (engine/README.md), or install the Pulumi CLI",
    };
  } catch (e) {
    return { reason: `the Pulumi CLI did not answer \`pulumi version\`: ${(e as Error).message}` };
  }
}

export function pulumiVersion(pulumi: string): string {
  return execFileSync(pulumi, ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "1" } }).trim();
}

/**
 * The project's stand-in provider plugins (engine/plugins/<name>/main.ts), as executables the engine starts like
 * any `pulumi-resource-<name>`: the Go module proxy serves neither github.com/pulumi/pulumi-command/provider nor
 * github.com/pulumi/pulumi-cloudflare/provider/v6 (engine/README.md). Written under .tmp/ of this checkout, since
 * they run this checkout's code; a folder to put on PATH, where the engine finds plugins before its cache
 * (sdk/go/common/workspace/plugins.go getPluginInfoAndPath: "found on $PATH").
 */
export function standInPluginDir(): string {
  const dir = join(REPO_ROOT, ".tmp", "engine-plugins");
  mkdirSync(dir, { recursive: true });
  const tsx = require.resolve("tsx/cjs", { paths: [REPO_ROOT] });
  const pluginsDir = join(ENGINE_DIR, "plugins");
  for (const name of existsSync(pluginsDir) ? readdirSync(pluginsDir) : []) {
    const main = join(pluginsDir, name, "main.ts");
    if (!existsSync(main)) continue;
    const file = join(dir, `pulumi-resource-${name}`);
    writeFileSync(
      file,
      `#!/bin/sh\n# Stand-in for the ${name} provider plugin: engine/plugins/${name} (see engine/README.md).\n` +
        `exec node --require ${JSON.stringify(tsx)} ${JSON.stringify(main)} "$@"\n`,
    );
    chmodSync(file, 0o755);
  }
  return dir;
}

/** The environment that runs the engine: its bin and the stand-in plugins first on PATH, no update check. */
export function engineEnv(engine: Engine, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    PATH: [engine.bin, standInPluginDir(), env.PATH ?? ""].join(delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "1",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "1",
  };
}
