import { describe, expect, it } from "vitest";
import { redisForBullmq } from "./redis-for-bullmq";
import { extraResource, planOf, STACKS, verdicts } from "./testing";

/**
 * The Redis machine as branch fly declares it (infra/fly/redis.ts there): redis-server's options on the command line
 * that init.exec runs through /bin/sh, the password read from stdin, no services.
 */
const redis = (options: string[], services: unknown[] = []) =>
  extraResource("prod", "pulumi-nodejs:dynamic/fly:Machine", "mauntic-prod-fly-redis-machine", {
    app_name: "mauntic-prod-redis",
    config: {
      image: "redis:7.4-alpine",
      init: {
        exec: [
          "/bin/sh",
          "-c",
          `exec redis-server --bind '* -::*' --port 6379 ${options.join(" ")} - <<EOF\nrequirepass \${REDIS_PASSWORD:?}\nEOF`,
        ],
      },
      services,
      metadata: { mauntic_stack: "prod", mauntic_role: "redis" },
    },
  });
const SAFE = [
  "--appendonly",
  "yes",
  "--appendfsync",
  "everysec",
  "--save",
  "''",
  "--maxmemory",
  "1228mb",
  "--maxmemory-policy",
  "noeviction",
];

/** A prod Sentinel machine as infra/fly/component.ts declares it: the Redis image, `redis-server <conf> --sentinel`. */
const sentinel = (services: unknown[] = []) =>
  extraResource("prod", "pulumi-nodejs:dynamic/fly:Machine", "mauntic-prod-fly-redis-sentinel-0", {
    app_name: "mauntic-prod-redis",
    config: {
      image: "redis:7.4-alpine",
      init: { exec: ["/bin/sh", "-c", `exec redis-server "$conf" --sentinel --port 26379 - <<EOF\nEOF`] },
      services,
      metadata: { mauntic_stack: "prod", mauntic_role: "redis-sentinel" },
    },
  });

describe("redis-for-bullmq", () => {
  it("does not hold a Sentinel (no data, no AOF) to the data settings, but refuses it public services", async () => {
    expect(await verdicts(redisForBullmq, [...planOf("prod"), redis(SAFE), sentinel()])).toEqual([]);
    const open = sentinel([{ internal_port: 26379, ports: [{ port: 26379 }] }]);
    const v = await verdicts(redisForBullmq, [...planOf("prod"), open]);
    expect(v.map((x) => [x.enforcement, x.urn, x.message])).toEqual([
      [
        "mandatory",
        open.urn,
        "the Redis Sentinel machine declares services: it must be reachable on the private network only",
      ],
    ]);
  });

  it.each(STACKS)("is quiet on today's %s plan (no Fly resources yet)", async (stack) => {
    expect(await verdicts(redisForBullmq, planOf(stack))).toEqual([]);
  });

  it("is quiet on a private noeviction + AOF everysec Redis", async () => {
    expect(await verdicts(redisForBullmq, [...planOf("prod"), redis(SAFE)])).toEqual([]);
  });

  it("fires on an evicting Redis without AOF that serves a public port", async () => {
    const m = redis(
      ["--maxmemory", "1228mb", "--maxmemory-policy", "allkeys-lru"],
      [{ internal_port: 6379, ports: [{ port: 6379 }] }],
    );
    const v = await verdicts(redisForBullmq, [...planOf("prod"), m]);
    expect(v.map((x) => [x.enforcement, x.urn, x.message])).toEqual([
      ["mandatory", m.urn, "Redis runs with maxmemory-policy allkeys-lru; BullMQ needs noeviction"],
      ["mandatory", m.urn, "Redis runs without AOF (--appendonly yes)"],
      ["mandatory", m.urn, "the Redis machine declares services: it must be reachable on the private network only"],
    ]);
  });
});
