/**
 * Redis memory against maxmemory, on every data node of the stack's Redis. The stack's Redis runs with
 * `maxmemory-policy noeviction` (BullMQ's requirement, infra/fly/redis.ts): at maxmemory it refuses every write
 * ("OOM command not allowed"), so BullMQ stops taking jobs. Figures from `INFO memory` (Redis docs, INFO:
 * `used_memory` bytes allocated by Redis, `maxmemory` the configured limit, `maxmemory_policy`) and the node's role
 * from `INFO replication` (`role:master|slave`).
 *
 * Prod's group (fly.redis.replicas > 0: a primary, replicas, 3 Sentinels) is read node by node: a replica holds the
 * primary's data set and becomes the primary on a failover, so a full replica is tomorrow's full primary. The nodes
 * come either as URLs (MONITOR_REDIS_URLS, e.g. one `flyctl proxy` per machine) or from the Sentinels the workers
 * are given (REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_PASSWORD, or the stack output flyRedisUrl
 * `redis-sentinel://<master>@<list>`): `SENTINEL MASTER <name>` and `SENTINEL REPLICAS <name>` name them (Redis
 * docs, "Sentinel API": fields `ip`, `port`, `flags`; with `announce-hostnames yes` `ip` holds the node's name).
 */
import { isIPv4 } from "node:net";
import IORedis from "ioredis";
import type { StackConfig } from "../config/schema";
import { maxmemoryMb, parseSentinels, type Endpoint } from "../fly/redis";
import { figure, messageOf, notConfigured, percent, report, type Figure, type SignalReport } from "./signal";

export interface RedisTarget {
  /** Each data node's URL, read as given (REDIS_URL for the lone Redis, MONITOR_REDIS_URLS for a group). */
  nodes?: string[];
  /** The Sentinel form the queue workers get: the monitor asks a Sentinel for the primary and replicas. */
  sentinels?: { endpoints: Endpoint[]; master: string; password?: string };
}

/** `field:value` lines of an INFO answer. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** flyRedisUrl of a Sentinel group (infra/fly/component.ts): `redis-sentinel://<master>@<host:port,...>`. */
export function parseSentinelUrl(url: string): { endpoints: Endpoint[]; master: string } | undefined {
  const m = /^redis-sentinel:\/\/([^@/]+)@(.+)$/.exec(url);
  return m ? { master: decodeURIComponent(m[1]!), endpoints: parseSentinels(m[2]!) } : undefined;
}

/** Data nodes the stack declares: 1 + fly.redis.replicas (the deploy's output flyRedisNodes.data). */
export const expectedDataNodes = (config: StackConfig) => 1 + (config.fly.redis.replicas ?? 0);

type Conn = { host: string; port: number; password?: string } | string;

/** One connection that never retries: a node that does not answer is reported, not waited for. */
async function withRedis<T>(target: Conn, fn: (r: IORedis) => Promise<T>): Promise<T> {
  const opts = {
    lazyConnect: true,
    connectTimeout: 10_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  };
  const redis =
    typeof target === "string"
      ? new IORedis(target, opts)
      : new IORedis({
          ...opts,
          host: target.host,
          port: target.port,
          password: target.password,
          // Fly's `.internal` names resolve to 6PN IPv6 only (the same fact as infra/fly/redis.ts redisUrl).
          family: isIPv4(target.host) ? 4 : 6,
        });
  // ioredis rejects connect() with "Connection is closed."; the cause (ECONNREFUSED, a timeout) came as an event.
  let cause: Error | undefined;
  redis.on("error", (e: Error) => (cause = e));
  try {
    await redis.connect();
    return await fn(redis);
  } catch (e) {
    throw cause ?? e;
  } finally {
    redis.disconnect();
  }
}

/** A `SENTINEL MASTER`/`REPLICAS` entry: a flat [field, value, ...] list. */
const fields = (flat: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  const a = flat as string[];
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i]!] = a[i + 1]!;
  return out;
};

/** The primary and replicas as the first Sentinel that answers names them. */
export async function nodesFromSentinels(s: NonNullable<RedisTarget["sentinels"]>): Promise<Endpoint[]> {
  const errors: string[] = [];
  for (const e of s.endpoints) {
    try {
      return await withRedis({ ...e, password: s.password }, async (r) => {
        const master = fields(await r.call("SENTINEL", "MASTER", s.master));
        const replicas = ((await r.call("SENTINEL", "REPLICAS", s.master)) as unknown[]).map(fields);
        return [master, ...replicas].map((n) => ({ host: n.ip!, port: Number(n.port) }));
      });
    } catch (err) {
      errors.push(`${e.host}:${e.port} ${messageOf(err)}`);
    }
  }
  throw new Error(`no Sentinel answered (${errors.join("; ")})`);
}

const nameOf = (c: Conn) => (typeof c === "string" ? new URL(c).host : `${c.host}:${c.port}`);

export async function redisSignal(config: StackConfig, target: RedisTarget | undefined): Promise<SignalReport> {
  let nodes: Conn[];
  if (target?.nodes?.length) {
    nodes = target.nodes;
  } else if (target?.sentinels) {
    if (!target.sentinels.password) {
      return notConfigured("redis", "a Sentinel group and no REDIS_PASSWORD: set it (the app secret REDIS_PASSWORD)");
    }
    const password = target.sentinels.password;
    nodes = (await nodesFromSentinels(target.sentinels)).map((e) => ({ ...e, password }));
  } else {
    return notConfigured(
      "redis",
      "no Redis address: set REDIS_URL (one node) or MONITOR_REDIS_URLS (each data node, e.g. through `fly proxy`), REDIS_SENTINELS with REDIS_PASSWORD, or the stack output flyRedisUrl",
    );
  }
  const read = await Promise.allSettled(
    nodes.map((n) =>
      withRedis(n, async (r) => ({ ...parseInfo(await r.info("memory")), ...parseInfo(await r.info("replication")) })),
    ),
  );
  const answered = read.flatMap((x, i) => (x.status === "fulfilled" ? [{ node: nodes[i]!, info: x.value }] : []));
  const failed = read.flatMap((x, i) =>
    x.status === "rejected" ? [`${nameOf(nodes[i]!)}: ${messageOf(x.reason)}`] : [],
  );
  // Not one node answered: Redis is unreachable (the run names it).
  if (!answered.length) throw (read[0] as PromiseRejectedResult).reason;
  const single = nodes.length === 1 && expectedDataNodes(config) === 1;
  const figures = answered.flatMap(
    ({ node, info }) =>
      judgeRedis(config, info, single ? "redis" : `redis ${nameOf(node)} (${info.role ?? "?"})`).figures,
  );
  if (!single) figures.unshift(nodesFigure(config, answered.length, failed));
  return report("redis", figures);
}

/** Data nodes read against those the stack declares: a lost replica (or an incomplete URL list) is a finding. */
export function nodesFigure(config: StackConfig, answered: number, failed: string[]): Figure {
  const expected = expectedDataNodes(config);
  return figure({
    subject: "redis",
    measure: "data nodes read",
    value: answered,
    unit: "nodes",
    threshold: expected,
    kind: "min",
    detail: `${answered} of ${expected} (1 + fly.redis.replicas)${failed.length ? `; not read: ${failed.join("; ")}` : ""}`,
    source: "INFO memory on each node (Sentinel MASTER/REPLICAS or MONITOR_REDIS_URLS)",
  });
}

/** The figure of an INFO memory answer against the stack's threshold. */
export function judgeRedis(config: StackConfig, info: Record<string, string>, subject = "redis"): SignalReport {
  const used = Number(info.used_memory);
  const max = Number(info.maxmemory);
  const policy = info.maxmemory_policy ?? "unknown";
  const expected = maxmemoryMb(config.fly.redis.memoryMb);
  return report("redis", [
    figure({
      subject,
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
