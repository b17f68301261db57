/**
 * Reading the Fly resources branch `fly` declares: Machines API machine configs (fly-go MachineConfig: `image`,
 * `env`, `init.cmd`, `services`, `stop_config.{timeout,signal}`, `metadata`). Until that branch merges, the policies
 * that read them are tested with hand-built props in this shape; check the token and field names at merge.
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

export const isRedis = (c: MachineConfig) => /(^|\/)redis(:|@|$)/.test(str(c.image) ?? "");

/** A Go duration as the Machines API takes it ("30s", "5m", "1m30s") in seconds; NaN when it is not one. */
export function durationSeconds(d: string | undefined): number {
  if (!d) return NaN;
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?$/.exec(d.trim());
  if (!m || d.trim() === "") return NaN;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}
