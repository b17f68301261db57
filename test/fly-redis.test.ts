/**
 * The Redis config proven on a real Redis (Debian's redis-server): exactly what the Fly machine runs, checked with
 * CONFIG GET, password refusal, a BullMQ queue + worker, and kill -9 + restart on the same data dir.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { proveRedis, redisServerPath, renderRedisProof } from "../infra/fly/redis-proof";
import { REDIS_MAXMEMORY_SHARE, redisServerSpec, redisUrl } from "../infra/fly/redis";
import { redisMachineConfig } from "../infra/fly/component";

describe("the Redis machine's command and config", () => {
  const spec = redisServerSpec({ memoryMb: 512 });
  const option = (name: string) => spec.args[spec.args.indexOf(`--${name}`) + 1];
  test("BullMQ's settings, maxmemory a stated share of the VM, the data dir on the volume, no password", () => {
    expect(option("maxmemory-policy")).toBe("noeviction");
    expect(option("appendonly")).toBe("yes");
    expect(option("appendfsync")).toBe("everysec");
    expect(option("maxmemory")).toBe(`${Math.floor(512 * REDIS_MAXMEMORY_SHARE)}mb`);
    expect(option("dir")).toBe("/data");
    expect(spec.args.join(" ")).not.toMatch(/requirepass/);
    // The options appear as written in the command the machine runs (what the plan and the policies read).
    expect(spec.command[2]).toContain(
      "--appendonly yes --appendfsync everysec --save '' --maxmemory 307mb --maxmemory-policy noeviction -",
    );
    expect(spec.command.join(" ")).toContain("${REDIS_PASSWORD:?");
  });
  test("the machine config: volume at the data dir, restart always, a health check, no services, no password", () => {
    const c = redisMachineConfig(
      { image: "redis:7.4-alpine", vmSize: "shared-cpu-1x", memoryMb: 512, volumeSizeGb: 5 },
      "vol_1",
      "dev",
    );
    expect(c.mounts).toEqual([{ volume: "vol_1", path: "/data" }]);
    expect(c.restart).toEqual({ policy: "always" });
    expect(c.checks?.redis).toMatchObject({ type: "tcp", port: 6379 });
    expect(c.services).toBeUndefined();
    expect(c.init?.exec).toEqual(spec.command);
    // The password is referenced by the env var's name only (the app secret), never as a value.
    expect(JSON.stringify(c)).not.toMatch(/requirepass [^$]/);
  });
  test("REDIS_URL: ioredis on Fly's IPv6 private network", () => {
    expect(redisUrl("mauntic-dev-redis.internal", "p@ss")).toBe(
      "redis://default:p%40ss@mauntic-dev-redis.internal:6379/0?family=6",
    );
  });
});

describe("on a real redis-server", () => {
  test("redis-server is installed (.ci/run installs it)", () => {
    expect(redisServerPath()).toBeTruthy();
  });

  test("without redis-server on PATH: nothing runs, and the report says how to install it", async () => {
    const path = process.env.PATH;
    process.env.PATH = mkdtempSync(join(tmpdir(), "no-redis-"));
    try {
      expect(redisServerPath()).toBeUndefined();
      const report = await proveRedis({ memoryMb: 512 });
      expect(report.skipped).toMatch(/apt-get install -y redis-server/);
      expect(renderRedisProof(report)).toEqual([`redis: skipped: ${report.skipped}`]);
    } finally {
      process.env.PATH = path;
    }
  });

  test("CONFIG GET, password refusal, BullMQ jobs, kill -9 and restart lose no acknowledged job", async () => {
    const report = await proveRedis({ memoryMb: 512, stack: "dev", addForMs: 2000 });
    process.stdout.write(`${renderRedisProof(report).join("\n")}\n`);
    expect(report.skipped).toBeUndefined();
    expect(report.config).toEqual({
      "maxmemory-policy": "noeviction",
      appendonly: "yes",
      appendfsync: "everysec",
      maxmemory: String(Math.floor(512 * REDIS_MAXMEMORY_SHARE) * 1024 * 1024),
    });
    expect(report.refusedWithoutPassword).toMatch(/NOAUTH/);
    expect(report.refusedWrongPassword).toMatch(/WRONGPASS/);
    expect(report.passwordExposed).toBe(false);
    expect(report.jobsAckedBeforeCutoff).toBeGreaterThan(0);
    expect(report.jobsProcessed).toBeGreaterThan(0);
    expect(report.jobsLost).toBe(0);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  }, 60_000);
});
