/**
 * Where the monitor reads from, found as the deploy finds its credentials: the environment (NEON_API_KEY,
 * CLOUDFLARE_API_TOKEN, FLY_API_TOKEN, as the providers and deploy.yml use them), else the stack's secrets
 * (`mauntic-infra:neonApiKey`, `cloudflare:apiToken`, `mauntic-infra:flyApiToken`) and outputs (databaseDirectUri,
 * databaseReplicaUri, neonProjectId, flyRedisUrl) through the Pulumi CLI, when one is installed and logged in.
 * Redis: MONITOR_REDIS_URLS (each data node), else the workers' form (REDIS_SENTINELS with REDIS_SENTINEL_MASTER and
 * REDIS_PASSWORD, or REDIS_URL), else flyRedisUrl (one node's URL, or prod's `redis-sentinel://` list + REDIS_PASSWORD).
 * Local fakes: NEON_API_URL, CLOUDFLARE_BASE_URL, CLOUDFLARE_GRAPHQL_URL, FLY_PROMETHEUS_URL.
 */
import { PROJECT_DIR } from "../config/load";
import { NEON_API_KEY_CONFIG } from "../neon/client";
import { FLY_API_TOKEN_CONFIG } from "../fly/client";
import { CLOUDFLARE_API_URL, CLOUDFLARE_GRAPHQL_URL } from "./hyperdrive";
import { FLY_PROMETHEUS_URL } from "./volumes";
import type { MonitorTargets } from "./run";
import { parseSentinels, SENTINEL_MASTER_NAME } from "../fly/redis";
import { parseSentinelUrl, type RedisTarget } from "./redis";

export interface StackReader {
  secret(key: string): Promise<string | undefined>;
  output(key: string): Promise<string | undefined>;
}

/** The stack's config and outputs through the Automation API; undefined when no Pulumi CLI answers. */
export async function pulumiStackReader(stack: string, log: (line: string) => void): Promise<StackReader | undefined> {
  let workspace: import("@pulumi/pulumi/automation").LocalWorkspace;
  try {
    const { previewWorkspace } = await import("../preview/stacks"); // a LocalWorkspace on the project, any stack
    workspace = await previewWorkspace(PROJECT_DIR);
  } catch (e) {
    log(`monitor: no stack secrets or outputs (${(e as Error).message.split("\n")[0]}): the environment only`);
    return undefined;
  }
  let outputs: Record<string, { value: unknown }> | undefined;
  const outputsOnce = async (): Promise<Record<string, { value: unknown }>> =>
    (outputs ??= await workspace.stackOutputs(stack).catch((e: Error) => {
      log(`monitor: stack outputs of ${stack} not read: ${e.message.split("\n")[0]}`);
      return {} as Record<string, { value: unknown }>;
    }));
  return {
    async secret(key) {
      try {
        return (await workspace.getConfig(stack, key)).value;
      } catch {
        return undefined;
      }
    },
    async output(key) {
      const v = (await outputsOnce())[key]?.value;
      return typeof v === "string" ? v : undefined;
    },
  };
}

/** The monitor's targets from the environment, completed from the stack when a reader is given. */
export async function monitorTargets(
  env: NodeJS.ProcessEnv,
  reader: StackReader | undefined,
  now = new Date(),
): Promise<MonitorTargets> {
  const pick = async (value: string | undefined, from: () => Promise<string | undefined> | undefined) =>
    value || (reader ? await from() : undefined) || undefined;
  const primaryUrl = await pick(env.MONITOR_DATABASE_URL, () => reader?.output("databaseDirectUri"));
  const replicaUrl = await pick(env.MONITOR_REPLICA_DATABASE_URL, () => reader?.output("databaseReplicaUri"));
  const neonKey = await pick(env.NEON_API_KEY, () => reader?.secret(NEON_API_KEY_CONFIG));
  const cfToken = await pick(env.CLOUDFLARE_API_TOKEN, () => reader?.secret("cloudflare:apiToken"));
  const flyToken = await pick(env.FLY_API_TOKEN, () => reader?.secret(FLY_API_TOKEN_CONFIG));
  const redis = await redisTarget(env, () => reader?.output("flyRedisUrl"));
  const projectId = await pick(env.NEON_PROJECT_ID, () => reader?.output("neonProjectId"));
  return {
    database: { primaryUrl, replicaUrl },
    neon: neonKey ? { apiKey: neonKey, baseUrl: env.NEON_API_URL, projectId, now } : undefined,
    cloudflare: cfToken
      ? {
          token: cfToken,
          apiUrl: env.CLOUDFLARE_BASE_URL ?? CLOUDFLARE_API_URL,
          graphqlUrl: env.CLOUDFLARE_GRAPHQL_URL ?? CLOUDFLARE_GRAPHQL_URL,
          now,
        }
      : undefined,
    fly: flyToken ? { token: flyToken, prometheusUrl: env.FLY_PROMETHEUS_URL ?? FLY_PROMETHEUS_URL } : undefined,
    redis,
  };
}

/** Where the Redis data nodes are, by the precedence in the header; undefined when nothing names them. */
export async function redisTarget(
  env: NodeJS.ProcessEnv,
  output: () => Promise<string | undefined> | undefined,
): Promise<RedisTarget | undefined> {
  if (env.MONITOR_REDIS_URLS) {
    const nodes = env.MONITOR_REDIS_URLS.split(",").map((u) => u.trim());
    nodes.forEach((u, i) => {
      if (!/^rediss?:\/\/[^/?#]+/.test(u)) {
        throw new Error(
          `MONITOR_REDIS_URLS: item ${i + 1} is not a Redis URL (allowed: redis://:<password>@host:port, comma-separated)`,
        );
      }
    });
    return { nodes };
  }
  const password = env.REDIS_PASSWORD || undefined;
  if (env.REDIS_SENTINELS) {
    const master = env.REDIS_SENTINEL_MASTER || SENTINEL_MASTER_NAME;
    return { sentinels: { endpoints: parseSentinels(env.REDIS_SENTINELS), master, password } };
  }
  const url = env.REDIS_URL || (await output()) || undefined;
  if (!url) return undefined;
  const group = parseSentinelUrl(url);
  return group ? { sentinels: { ...group, password } } : { nodes: [url] };
}
