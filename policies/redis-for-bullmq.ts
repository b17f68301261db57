import { machines, isRedis, isRedisSentinel } from "./fly";
import { stackPolicy, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "redis-for-bullmq",
  description:
    "The Redis that BullMQ uses runs with maxmemory-policy noeviction and AOF (appendonly yes, appendfsync everysec), and serves the private network only.",
  why: "With any eviction policy Redis silently drops queue keys under memory pressure and jobs vanish; without AOF a restart loses every queued job; a public Redis is an open door to the queue.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "advisory" },
  remediation:
    "Start redis-server with `--maxmemory-policy noeviction --appendonly yes --appendfsync everysec` and give its machine no `services` (workers reach it at <app>.internal).",
};

/** BullMQ's production guide: "maxmemory-policy noeviction" and AOF persistence (docs.bullmq.io/guide/going-to-production). */
export const redisForBullmq = stackPolicy(meta, ({ resources }, report) => {
  for (const { r, config } of machines(resources).filter((m) => isRedis(m.config))) {
    const args = [...(config.init?.cmd ?? []), ...(config.init?.exec ?? [])].join(" ");
    const setting = (name: string) => new RegExp(`--${name}\\s+(\\S+)`).exec(args)?.[1];
    if (setting("maxmemory-policy") !== "noeviction") {
      report(
        `Redis runs with maxmemory-policy ${setting("maxmemory-policy") ?? "(default noeviction not pinned)"}; BullMQ needs noeviction`,
        r.urn,
      );
    }
    if (setting("appendonly") !== "yes") report("Redis runs without AOF (--appendonly yes)", r.urn);
    else if ((setting("appendfsync") ?? "everysec") !== "everysec") {
      report(`Redis AOF fsyncs ${setting("appendfsync")}; BullMQ's guide asks for everysec`, r.urn);
    }
    if (config.services?.length)
      report("the Redis machine declares services: it must be reachable on the private network only", r.urn);
  }
  // Prod's Sentinels hold no data but name the primary and share its password: private network only too.
  for (const { r, config } of machines(resources).filter((m) => isRedisSentinel(m.config))) {
    if (config.services?.length)
      report("the Redis Sentinel machine declares services: it must be reachable on the private network only", r.urn);
  }
});
