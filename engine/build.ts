#!/usr/bin/env node
/**
 * `npm run engine`: finds or builds the real Pulumi CLI and the plugins the program needs; its last line of output
 * is the folder that holds them (put it first on PATH). See engine/README.md.
 *
 *   npm run engine            a `pulumi` on PATH, else the cached build, else build it (minutes, once per version)
 *   npm run engine -- --built ignore a `pulumi` on PATH: use or make the build
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ENGINE_DIR, REPO_ROOT, builtRoot, engineVersion, findEngine, standInPluginDir, type Engine } from "./locate";

export class EngineBuildError extends Error {}

const INSTALL_HINT =
  "Install Go 1.25 or newer (https://go.dev/dl/) with access to the Go module proxy, or install a Pulumi CLI " +
  "(https://www.pulumi.com/docs/install/) and put it on PATH, then run `npm run engine` again.";

function go(args: string[], env: NodeJS.ProcessEnv): { ok: boolean; output: string } {
  const r = spawnSync("go", args, { cwd: ENGINE_DIR, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Builds the CLI (pulumi/pulumi's own main package) and this project's Node.js language host into the cache. */
export function buildEngine(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Engine {
  const version = engineVersion();
  const root = builtRoot();
  const env = { ...process.env, GOFLAGS: "-mod=readonly" };
  const probe = go(["version"], env);
  if (!probe.ok) throw new EngineBuildError(`no Go toolchain (\`go version\`: ${probe.output.trim()}). ${INSTALL_HINT}`);
  log(`building the Pulumi engine ${version} with ${probe.output.trim()} into ${root}`);

  const staging = `${root}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, "bin"), { recursive: true });
  const ldflags = `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}`;
  const steps: [string, string[]][] = [
    ["module download", ["mod", "download", "github.com/pulumi/pulumi/pkg/v3", "github.com/pulumi/pulumi/sdk/v3"]],
    ["pulumi", ["build", "-ldflags", ldflags, "-o", join(staging, "bin", "pulumi"), "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"]],
    [
      "pulumi-language-nodejs",
      ["build", "-ldflags", ldflags, "-o", join(staging, "bin", "pulumi-language-nodejs"), "./cmd/pulumi-language-nodejs"],
    ],
  ];
  for (const [what, args] of steps) {
    const started = Date.now();
    const r = go(args, env);
    if (!r.ok) {
      rmSync(staging, { recursive: true, force: true });
      const unreachable = /proxy|dial tcp|no such host|403|404|410|Forbidden|not available/i.test(r.output);
      throw new EngineBuildError(
        `${what}: \`go ${args.join(" ")}\` failed${unreachable ? " (a module could not be fetched)" : ""}:\n` +
          `${r.output.trim().split("\n").slice(-8).join("\n")}\n${INSTALL_HINT}`,
      );
    }
    log(`  ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  // The dynamic-provider plugin ships in @pulumi/pulumi; the CLI looks for it next to itself (a bundled plugin,
  // sdk/go/common/workspace/plugins.go IsPluginBundled), as in Pulumi's own release archives.
  const dynamic = require.resolve("@pulumi/pulumi/pulumi-resource-pulumi-nodejs", { paths: [REPO_ROOT] });
  copyFileSync(dynamic, join(staging, "bin", "pulumi-resource-pulumi-nodejs"));
  chmodSync(join(staging, "bin", "pulumi-resource-pulumi-nodejs"), 0o755);
  rmSync(root, { recursive: true, force: true });
  renameSync(staging, root);
  const engine = findEngine({ ...process.env, MAUNTIC_ENGINE: "built" });
  if (!engine) throw new EngineBuildError(`the build finished but ${root}/bin is incomplete`);
  return engine;
}

/** The engine to use, building it when there is none. */
export function ensureEngine(options: { built?: boolean; log?: (line: string) => void } = {}): Engine {
  const env = options.built ? { ...process.env, MAUNTIC_ENGINE: "built" } : process.env;
  return findEngine(env) ?? buildEngine(options.log);
}

if (require.main === module) {
  try {
    const started = Date.now();
    const engine = ensureEngine({ built: process.argv.includes("--built") });
    const plugins = standInPluginDir();
    process.stderr.write(
      `pulumi ${engine.version} (${engine.source === "path" ? "from PATH" : "built from the Go module proxy"}) ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s; stand-in plugins: ${plugins}\n`,
    );
    process.stdout.write(`${engine.bin}\n`);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(e instanceof EngineBuildError ? 1 : 2);
  }
}

