/**
 * The monitor's Redis memory on prod's group (fly.redis.replicas > 0): a real primary, a replica and a Sentinel on
 * redis-server, found as the workers find them (REDIS_SENTINELS + REDIS_PASSWORD) or from the deploy's output
 * flyRedisUrl (`redis-sentinel://<master>@<list>`), or named one by one (MONITOR_REDIS_URLS); every data node's
 * memory is a figure, and fewer nodes read than the stack declares is a finding.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import IORedis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackConfigFromFile } from "../infra/config/load";
import type { StackConfig } from "../infra/config/schema";
import { SENTINEL_MASTER_NAME } from "../infra/fly/redis";
import { freePort, redisServerPath, until } from "../infra/fly/redis-proof";
import { parseSentinelUrl, redisSignal } from "../infra/monitor/redis";
import { redisTarget } from "../infra/monitor/targets";
import { runCli } from "./helpers/cli";

const dev = loadStackConfigFromFile("dev");
const withReplicas = (replicas: number): StackConfig => ({
  ...dev,
  fly: { ...dev.fly, redis: { ...dev.fly.redis, replicas } },
});
const PASSWORD = "monitor-test-pass";
const hasRedis = redisServerPath() !== undefined;
const root = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-monitor-redis-"));
const procs: ChildProcess[] = [];
let primary = 0;
let replica = 0;
let sentinel = 0;

const ask = async (port: number, ...args: string[]) => {
  const c = new IORedis({ host: "127.0.0.1", port, password: PASSWORD, lazyConnect: true, retryStrategy: () => null });
  c.on("error", () => undefined);
  try {
    await c.connect();
    return await c.call(args[0]!, ...args.slice(1));
  } finally {
    c.disconnect();
  }
};

beforeAll(async () => {
  if (!hasRedis) return;
  [primary, replica, sentinel] = [await freePort(), await freePort(), await freePort()];
  const server = (port: number, ...more: string[]) =>
    procs.push(
      spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--requirepass",
          PASSWORD,
          "--masterauth",
          PASSWORD,
          "--maxmemory",
          "4mb",
          "--maxmemory-policy",
          "noeviction",
          // The replica's full sync writes an RDB file: each node in a directory of its own, outside the clone.
          "--dir",
          fs.mkdtempSync(path.join(root, "node-")),
          ...more,
        ],
        { stdio: "ignore", cwd: root },
      ),
    );
  server(primary);
  server(replica, "--replicaof", "127.0.0.1", String(primary));
  // Sentinel rewrites its config file: one of its own.
  const conf = path.join(root, "sentinel.conf");
  fs.writeFileSync(
    conf,
    [
      `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primary} 1`,
      `sentinel auth-pass ${SENTINEL_MASTER_NAME} ${PASSWORD}`,
      `requirepass ${PASSWORD}`,
      "",
    ].join("\n"),
  );
  procs.push(
    spawn("redis-server", [conf, "--sentinel", "--port", String(sentinel), "--bind", "127.0.0.1"], {
      stdio: "ignore",
      cwd: root,
    }),
  );
  // The Sentinel learns the replica from the primary's INFO replication.
  await until(
    "the Sentinel knows the replica",
    async () => {
      const r = (await ask(sentinel, "SENTINEL", "REPLICAS", SENTINEL_MASTER_NAME).catch(() => [])) as unknown[];
      return r.length === 1 || undefined;
    },
    30_000,
  );
}, 60_000);
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  fs.rmSync(root, { recursive: true, force: true });
});

const skipWithout = (ctx: { skip: () => void }) => {
  if (!hasRedis) {
    console.warn("skipped: no redis-server (apt-get install redis-server)");
    ctx.skip();
  }
};
const summary = (r: Awaited<ReturnType<typeof redisSignal>>) =>
  r.figures.map((f) => [f.subject.replace(/\d{4,5}/, "PORT"), f.measure, f.finding]);

describe("prod's Redis group: every data node", () => {
  it("found through the Sentinels as the workers are (REDIS_SENTINELS): the primary and the replica, 2 of 2", async (ctx) => {
    skipWithout(ctx);
    const target = await redisTarget(
      { REDIS_SENTINELS: `127.0.0.1:${sentinel}`, REDIS_PASSWORD: PASSWORD },
      () => undefined,
    );
    const r = await redisSignal(withReplicas(1), target);
    expect(r.status).toBe("ok");
    expect(summary(r)).toEqual([
      ["redis", "data nodes read", false],
      ["redis 127.0.0.1:PORT (master)", "memory used of maxmemory", false],
      ["redis 127.0.0.1:PORT (slave)", "memory used of maxmemory", false],
    ]);
    expect(r.figures.map((f) => f.subject)).toEqual([
      "redis",
      `redis 127.0.0.1:${primary} (master)`,
      `redis 127.0.0.1:${replica} (slave)`,
    ]);
    expect(r.figures[0]).toMatchObject({ value: 2, threshold: 2, kind: "min" });
    expect(r.figures[2]!.detail).toMatch(/of maxmemory 4194304 B/);
  });

  it("a replica past its threshold is a finding, as the primary would be", async (ctx) => {
    skipWithout(ctx);
    const config = { ...withReplicas(1), monitoring: { ...dev.monitoring, redisMemoryPct: 1 } };
    const r = await redisSignal(
      config,
      await redisTarget({ REDIS_SENTINELS: `127.0.0.1:${sentinel}`, REDIS_PASSWORD: PASSWORD }, () => undefined),
    );
    expect(r.status).toBe("finding");
    expect(r.figures.filter((f) => f.finding).map((f) => f.subject)).toEqual([
      `redis 127.0.0.1:${primary} (master)`,
      `redis 127.0.0.1:${replica} (slave)`,
    ]);
  });

  it("from the deploy's output flyRedisUrl (redis-sentinel://) with REDIS_PASSWORD; a dead Sentinel first is passed over", async (ctx) => {
    skipWithout(ctx);
    const dead = await freePort();
    const output = `redis-sentinel://${SENTINEL_MASTER_NAME}@127.0.0.1:${dead},127.0.0.1:${sentinel}`;
    expect(parseSentinelUrl(output)).toEqual({
      master: SENTINEL_MASTER_NAME,
      endpoints: [
        { host: "127.0.0.1", port: dead },
        { host: "127.0.0.1", port: sentinel },
      ],
    });
    const r = await redisSignal(withReplicas(1), await redisTarget({ REDIS_PASSWORD: PASSWORD }, async () => output));
    expect(r.status).toBe("ok");
    expect(r.figures).toHaveLength(3);
    // Without the password the group cannot be read: said, not a crash.
    const none = await redisSignal(withReplicas(1), await redisTarget({}, async () => output));
    expect(none).toMatchObject({ status: "not configured", reason: expect.stringMatching(/REDIS_PASSWORD/) });
  });

  it("2 of the 3 data nodes prod declares (2 replicas) is a finding; so is a node that does not answer", async (ctx) => {
    skipWithout(ctx);
    const viaSentinel = await redisTarget(
      { REDIS_SENTINELS: `127.0.0.1:${sentinel}`, REDIS_PASSWORD: PASSWORD },
      () => undefined,
    );
    const short = await redisSignal(withReplicas(2), viaSentinel);
    expect(short.status).toBe("finding");
    expect(short.figures[0]).toMatchObject({ measure: "data nodes read", value: 2, threshold: 3, finding: true });
    expect(short.figures[0]!.detail).toBe("2 of 3 (1 + fly.redis.replicas)");

    const dead = await freePort();
    const listed = await redisTarget(
      {
        MONITOR_REDIS_URLS: [primary, replica, dead].map((p) => `redis://:${PASSWORD}@127.0.0.1:${p}`).join(","),
      },
      () => undefined,
    );
    const r = await redisSignal(withReplicas(2), listed);
    expect(r.figures[0]).toMatchObject({ value: 2, threshold: 3, finding: true });
    expect(r.figures[0]!.detail).toMatch(new RegExp(`not read: 127\\.0\\.0\\.1:${dead}: .*ECONNREFUSED`));
    // The same list with the dead node left out, for a stack of 1 replica: quiet.
    const two = await redisTarget(
      { MONITOR_REDIS_URLS: [primary, replica].map((p) => `redis://:${PASSWORD}@127.0.0.1:${p}`).join(",") },
      () => undefined,
    );
    expect((await redisSignal(withReplicas(1), two)).status).toBe("ok");
  });

  it("no Sentinel answering: Redis unreachable, named", async (ctx) => {
    skipWithout(ctx);
    const dead = await freePort();
    await expect(
      redisSignal(withReplicas(1), {
        sentinels: { endpoints: [{ host: "127.0.0.1", port: dead }], master: SENTINEL_MASTER_NAME, password: PASSWORD },
      }),
    ).rejects.toThrow(new RegExp(`no Sentinel answered \\(127\\.0\\.0\\.1:${dead} .*ECONNREFUSED`));
  });

  it("a badly named node or Sentinel list is bad input: exit 2 naming the variable and what is allowed", async () => {
    const base = {
      MONITOR_DATABASE_URL: "",
      NEON_API_KEY: "",
      CLOUDFLARE_API_TOKEN: "",
      FLY_API_TOKEN: "",
      REDIS_URL: "",
    };
    const urls = await runCli(["monitor", "--stack", "dev"], {
      env: { ...base, MONITOR_REDIS_URLS: "redis://:p@127.0.0.1:1,127.0.0.1:2", MAUNTIC_PULUMI_ROOT: root },
    });
    expect(urls.code).toBe(2);
    expect(urls.stderr).toMatch(/error: MONITOR_REDIS_URLS: item 2 is not a Redis URL \(allowed: /);
    const sentinels = await runCli(["monitor", "--stack", "dev"], {
      env: { ...base, REDIS_SENTINELS: "sentinel-0", MAUNTIC_PULUMI_ROOT: root },
    });
    expect(sentinels.code).toBe(2);
    expect(sentinels.stderr).toMatch(/error: REDIS_SENTINELS: 'sentinel-0' is not host:port \(allowed: /);
  }, 60_000);
});
