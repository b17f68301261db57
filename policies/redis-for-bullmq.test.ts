import { describe, expect, it } from "vitest";
import { redisForBullmq } from "./redis-for-bullmq";
import { extraResource, planOf, STACKS, verdicts } from "./testing";

/** A Redis machine as the Machines API takes its config (fly-go MachineConfig); branch fly declares the real one. */
const redis = (cmd: string[], services: unknown[] = []) =>
  extraResource("prod", "pulumi-nodejs:dynamic/fly:Machine", "mauntic-prod-redis", {
    config: { image: "redis:7.2", init: { cmd }, services },
  });
const SAFE = ["redis-server", "--maxmemory-policy", "noeviction", "--appendonly", "yes", "--appendfsync", "everysec"];

describe("redis-for-bullmq", () => {
  it.each(STACKS)("is quiet on today's %s plan (no Fly resources yet)", async (stack) => {
    expect(await verdicts(redisForBullmq, planOf(stack))).toEqual([]);
  });

  it("is quiet on a private noeviction + AOF everysec Redis", async () => {
    expect(await verdicts(redisForBullmq, [...planOf("prod"), redis(SAFE)])).toEqual([]);
  });

  it("fires on an evicting Redis without AOF that serves a public port", async () => {
    const m = redis(["redis-server", "--maxmemory-policy", "allkeys-lru"], [{ internal_port: 6379, ports: [{ port: 6379 }] }]);
    const v = await verdicts(redisForBullmq, [...planOf("prod"), m]);
    expect(v.map((x) => [x.enforcement, x.urn, x.message])).toEqual([
      ["mandatory", m.urn, "Redis runs with maxmemory-policy allkeys-lru; BullMQ needs noeviction"],
      ["mandatory", m.urn, "Redis runs without AOF (--appendonly yes)"],
      ["mandatory", m.urn, "the Redis machine declares services: it must be reachable on the private network only"],
    ]);
  });
});
