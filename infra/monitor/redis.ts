/**
 * Redis memory against maxmemory. The stack's Redis runs with `maxmemory-policy noeviction` (BullMQ's requirement,
 * infra/fly/redis.ts): at maxmemory it refuses every write ("OOM command not allowed"), so BullMQ stops taking jobs.
 * Figures from `INFO memory` (Redis docs, INFO: `used_memory` bytes allocated by Redis, `maxmemory` the configured
 * limit, `maxmemory_policy`).
 */
import IORedis from "ioredis";
import type { StackConfig } from "../config/schema";
import { maxmemoryMb } from "../fly/redis";
import { figure, notConfigured, percent, report, type SignalReport } from "./signal";

/** `field:value` lines of an INFO answer. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export async function redisSignal(config: StackConfig, url: string | undefined): Promise<SignalReport> {
  if (!url) {
    return notConfigured(
      "redis",
      "no Redis URL: set REDIS_URL (the app is on Fly's private network: e.g. through `fly proxy`), or the stack output flyRedisUrl",
    );
  }
  const redis = new IORedis(url, {
    lazyConnect: true,
    connectTimeout: 10_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis rejects connect() with "Connection is closed."; the cause (ECONNREFUSED, a timeout) came as an event.
  let cause: Error | undefined;
  redis.on("error", (e: Error) => (cause = e));
  let info: Record<string, string>;
  try {
    await redis.connect();
    info = parseInfo(await redis.info("memory"));
  } catch (e) {
    throw cause ?? e;
  } finally {
    redis.disconnect();
  }
  return judgeRedis(config, info);
}

/** The figure of an INFO memory answer against the stack's threshold. */
export function judgeRedis(config: StackConfig, info: Record<string, string>): SignalReport {
  const used = Number(info.used_memory);
  const max = Number(info.maxmemory);
  const policy = info.maxmemory_policy ?? "unknown";
  const expected = maxmemoryMb(config.fly.redis.memoryMb);
  return report("redis", [
    figure({
      subject: "redis",
      measure: "memory used of maxmemory",
      // No maxmemory (0): Redis would grow until the VM kills it; reported as fully used.
      value: max > 0 ? percent(used, max) : 100,
      unit: "%",
      threshold: config.monitoring.redisMemoryPct,
      detail: `used_memory ${used} B of maxmemory ${max} B (the stack sets ${expected} MB), maxmemory_policy ${policy}`,
      source: "INFO memory used_memory / maxmemory",
    }),
  ]);
}
