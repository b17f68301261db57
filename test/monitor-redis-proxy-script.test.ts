/**
 * `.github/scripts/monitor-redis-proxy.sh` against a fake `flyctl` on PATH: `machine list --json` answers as flyctl
 * prints it (internal/command/machine/list.go: render.JSON of fly-go's []*Machine, machine_types.go: `id`, `name`,
 * `state`, `region`, `config` whose MachineConfig has `metadata`) for prod's group (3 data nodes, 3 Sentinels);
 * `proxy <local:remote> [remote_host]` (internal/command/proxy/proxy.go, with `--quiet`) records its
 * arguments and listens on the local port, except for the node told to fail. The script opens one proxy per data
 * node, never a Sentinel, and prints every port, the failed node's included (the monitor names it "not read").
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../infra/fly/redis-proof";

const SCRIPT = path.resolve(".github/scripts/monitor-redis-proxy.sh");
const FAKE_FLYCTL = `#!/usr/bin/env node
const fs = require("fs"); const net = require("net");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_CALLS, JSON.stringify({ args, pid: process.pid }) + "\\n");
if (args[0] === "machine" && args[1] === "list") {
  const m = (id, role) => ({ id, name: id, state: "started", region: "iad", config: { image: "redis:7.4-alpine", metadata: { mauntic_stack: "prod", mauntic_role: role } } });
  process.stdout.write(JSON.stringify([m("d0", "redis"), m("s0", "redis-sentinel"), m("d1", "redis"), m("s1", "redis-sentinel"), m("d2", "redis"), m("s2", "redis-sentinel")]));
} else if (args[0] === "proxy") {
  if (args[2].startsWith(process.env.FAKE_FAIL + ".")) { process.stderr.write("Error: no route\\n"); process.exit(1); }
  const port = Number(args[1].split(":")[0]);
  net.createServer((s) => s.end()).listen(port, "127.0.0.1");
  setTimeout(() => process.exit(0), 60000);
} else { process.stderr.write("fake flyctl: unsupported\\n"); process.exit(1); }
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-redis-proxy-"));
const calls = path.join(dir, "calls.jsonl");
fs.mkdirSync(path.join(dir, "bin"));
fs.writeFileSync(path.join(dir, "bin", "flyctl"), FAKE_FLYCTL, { mode: 0o755 });
const recorded = () =>
  fs
    .readFileSync(calls, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { args: string[]; pid: number });
afterAll(() => {
  for (const c of recorded())
    if (c.args[0] === "proxy")
      try {
        process.kill(c.pid, "SIGKILL");
      } catch {
        /* gone */
      }
  fs.rmSync(dir, { recursive: true, force: true });
});

const listening = (port: number) =>
  new Promise<boolean>((r) =>
    net
      .connect(port, "127.0.0.1")
      .on("connect", function (this: net.Socket) {
        this.destroy();
        r(true);
      })
      .on("error", () => r(false)),
  );

describe("monitor-redis-proxy.sh", () => {
  it("one proxy per data node by its machine name, never a Sentinel; every port printed, a failed one's too", async () => {
    fs.writeFileSync(calls, "");
    // Three consecutive free ports are likely, not certain: the base is free, and the test says which is which.
    const base = await freePort();
    const r = spawnSync(SCRIPT, ["prod"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 90_000,
      env: {
        PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
        FAKE_CALLS: calls,
        FAKE_FAIL: "d2",
        MONITOR_REDIS_BASE_PORT: String(base),
      },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${base} ${base + 1} ${base + 2}`);
    const proxies = recorded()
      .filter((c) => c.args[0] === "proxy")
      .map((c) => c.args.join(" "));
    expect(proxies.sort()).toEqual([
      `proxy ${base}:6379 d0.vm.mauntic-prod-redis.internal --app mauntic-prod-redis --quiet`,
      `proxy ${base + 1}:6379 d1.vm.mauntic-prod-redis.internal --app mauntic-prod-redis --quiet`,
      `proxy ${base + 2}:6379 d2.vm.mauntic-prod-redis.internal --app mauntic-prod-redis --quiet`,
    ]);
    expect(recorded()[0]!.args).toEqual(["machine", "list", "--app", "mauntic-prod-redis", "--json"]);
    expect([await listening(base), await listening(base + 1), await listening(base + 2)]).toEqual([true, true, false]);
  }, 120_000);
});
