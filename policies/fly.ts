/**
 * Reading the Fly resources branch `fly` declares (infra/fly/resources.ts there: `pulumi-nodejs:dynamic/fly:<Kind>`
 * for App, Volume, Machine, Secrets): Machines API machine configs (`image`, `env`, `init.exec`/`cmd`, `services`,
 * `stop_config.{timeout,signal}`, `metadata` with `mauntic_role` and `longest_job_seconds`). Until that branch merges
 * the policies that read them are tested with hand-built props in that shape (read at fly 97c51be).
 */
import type { PolicyResource } from "@pulumi/policy";
import { at, isFly, str } from "./lib";

export interface MachineConfig {
  image?: string;
  env?: Record<string, string>;
  init?: { cmd?: string[]; exec?: string[]; entrypoint?: string[] };
  services?: { ports?: { port?: number; handlers?: string[] }[]; internal_port?: number }[];
  stop_config?: { timeout?: string; signal?: string };
  metadata?: Record<string, string>;
}

export function machines(resources: PolicyResource[]): { r: PolicyResource; config: MachineConfig }[] {
  return resources
    .filter((r) => isFly(r.type, "Machine"))
    .map((r) => ({ r, config: (at(r.props, "config") ?? {}) as MachineConfig }));
}

/**
 * A machine of the Redis component (infra/fly/component.ts FLY_REDIS_COMPONENT), known from its URN's parent types
 * even when its config is not: in a preview of a first deploy a Redis machine's config is one unknown (it names its
 * volume, made in the same deploy).
 */
export const underRedisComponent = (r: PolicyResource) => /(::|\$)mauntic:fly:Redis\$/.test(r.urn);

/** Prod's Redis Sentinels (infra/fly/component.ts): the Redis image, no data, not a queue worker. */
export const isRedisSentinel = (c: MachineConfig) => c.metadata?.mauntic_role === "redis-sentinel";

/** Branch fly marks its machines' role in metadata (`mauntic_role: redis`); the image name otherwise. */
export const isRedis = (c: MachineConfig) =>
  !isRedisSentinel(c) && (c.metadata?.mauntic_role === "redis" || /(^|\/)redis(:|@|$)/.test(str(c.image) ?? ""));

/** A Go duration as the Machines API takes it ("30s", "5m", "1m30s") in seconds; NaN when it is not one. */
export function durationSeconds(d: string | undefined): number {
  if (!d) return NaN;
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?$/.exec(d.trim());
  if (!m || d.trim() === "") return NaN;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}
