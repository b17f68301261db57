/**
 * `npm run engine` when the engine cannot be had: one message naming what is missing and how to install a Pulumi CLI
 * instead, exit 1, and nothing half-built left in the cache.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../engine/locate";

const TSX = path.join(REPO_ROOT, "node_modules", ".bin", "tsx");

function build(env: NodeJS.ProcessEnv) {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-engine-cache-"));
  const r = spawnSync(TSX, ["engine/build.ts", "--built"], {
    cwd: REPO_ROOT,
    env: { ...process.env, MAUNTIC_ENGINE_CACHE: cache, ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  const left = fs.readdirSync(cache);
  fs.rmSync(cache, { recursive: true, force: true });
  return { code: r.status, stderr: r.stderr, left };
}

describe("npm run engine without what it needs", () => {
  it("no Go toolchain: exit 1, naming it and how to install a Pulumi CLI instead", () => {
    // PATH with node (for tsx) and nothing else: no `go`, no `pulumi`.
    const r = build({ PATH: path.dirname(process.execPath) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no Go toolchain \(`go version`: .*ENOENT.*\)/);
    expect(r.stderr).toContain("install a Pulumi CLI (https://www.pulumi.com/docs/install/) and put it on PATH");
    expect(r.left).toEqual([]);
  });

  it("a module the proxy will not serve: exit 1, naming the step and the module error", () => {
    // An empty module cache and no proxy: the first download fails as an unreachable proxy does.
    const gopath = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-gopath-"));
    try {
      const r = build({ GOPROXY: "off", GOMODCACHE: path.join(gopath, "mod"), GOFLAGS: "" });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/module download: `go mod download github\.com\/pulumi\/pulumi\/pkg\/v3 .*` failed/);
      expect(r.stderr).toMatch(/module lookup disabled by GOPROXY=off/);
      expect(r.stderr).toContain("or install a Pulumi CLI");
      expect(r.left).toEqual([]);
    } finally {
      spawnSync("chmod", ["-R", "u+w", gopath]);
      fs.rmSync(gopath, { recursive: true, force: true });
    }
  });
});
