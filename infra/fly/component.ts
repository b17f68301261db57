/**
 * The Fly side of a stack: `mauntic:fly:Redis` (one app running Redis for BullMQ on a volume, private network only)
 * and one `mauntic:fly:QueueWorker` per `fly.queueWorkers` entry (an app, its secrets, `count` machines rolled one
 * at a time). A preview stack `pr-<N>` gets its own small Redis (previewOverrides) and one machine per worker, and
 * its queue prefix is its own: nothing of a preview can reach dev's or prod's queues.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { cloudName, parseStackName, resourceName } from "../naming";
import type { DatabaseConnection } from "../neon/connection";
import { postgresUri } from "../neon/uri";
import type { MachineConfig, MachineGuest } from "./providers";
import { REDIS_DATA_DIR, REDIS_PASSWORD_ENV, REDIS_PORT, internalHost, redisServerSpec, redisUrl } from "./redis";
import { App, Machine, Secrets, Volume } from "./resources";
// Registers the offline engine's fake outputs for these types (inert unless the engine's mocks are active).
import "./mocks";

export const FLY_REDIS_COMPONENT = "mauntic:fly:Redis";
export const FLY_QUEUE_WORKER_COMPONENT = "mauntic:fly:QueueWorker";
/** Fly volume name of Redis's data (lowercase, digits, underscores). */
export const REDIS_VOLUME_NAME = "redis_data";
/** Daily volume snapshots Fly keeps: a week to recover queues from. */
export const REDIS_SNAPSHOT_DAYS = 7;
/** Redis's own stop: SIGTERM makes it fsync the AOF and exit (Redis docs, "SHUTDOWN"). */
export const REDIS_STOP = { signal: "SIGTERM", timeout: "30s" } as const;

/** `shared-cpu-2x` -> shared, 2 CPUs; `performance-4x` -> performance, 4 (Fly's VM size names). */
export function guestOf(vmSize: string, memoryMb: number): MachineGuest {
  const m = /^(shared-cpu|performance)-(\d+)x$/.exec(vmSize);
  if (!m) throw new Error(`unknown Fly VM size '${vmSize}' (allowed: shared-cpu-<n>x, performance-<n>x)`);
  return { cpu_kind: m[1] === "shared-cpu" ? "shared" : "performance", cpus: Number(m[2]), memory_mb: memoryMb };
}

/** The BullMQ key prefix of a stack's queues: a preview's workers never share keys with dev's or prod's. */
export const queuePrefix = (stack: string) => `mauntic:${stack}`;

/** The Redis machine's whole config: command and options, volume mount, health check; no services, no password. */
export function redisMachineConfig(redis: StackConfig["fly"]["redis"], volumeId: string, stack: string): MachineConfig {
  const spec = redisServerSpec({ memoryMb: redis.memoryMb });
  return {
    image: redis.image,
    guest: guestOf(redis.vmSize, redis.memoryMb),
    // The image's entrypoint would run as the redis user after a chown; our command replaces it (runs as root in
    // the machine's own VM) so the password can come from the app secret on stdin (./redis.ts).
    init: { exec: spec.command },
    mounts: [{ volume: volumeId, path: REDIS_DATA_DIR }],
    restart: { policy: "always" },
    checks: {
      redis: { type: "tcp", port: REDIS_PORT, interval: "15s", timeout: "2s", grace_period: "10s" },
    },
    stop_config: { ...REDIS_STOP },
    metadata: { mauntic_stack: stack, mauntic_role: "redis" },
  };
}

/**
 * The stack's own 6PN network, shared by its Redis and its workers and by nothing else: "Any Machine started in such
 * an app will not be able to access other apps within their organization over the private network" (Fly docs, Apps
 * resource: Create a Fly App, `network`). Previews, other stacks and the organization's WireGuard peers cannot reach
 * the stack's Redis. Fixed at create: an existing app moves only by being replaced.
 */
export const flyNetwork = (stack: string) => cloudName(stack, "fly", "net");

export interface FlyRedisArgs {
  stack: string;
  config: StackConfig;
}

export class FlyRedis extends pulumi.ComponentResource {
  readonly appName: string;
  /** `redis://default:<password>@<app>.internal:6379/0?family=6`: secret. */
  readonly url: pulumi.Output<string>;
  readonly maxmemoryMb: number;

  constructor(name: string, args: FlyRedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super(FLY_REDIS_COMPONENT, name, {}, opts);
    const { stack, config } = args;
    const fly = config.fly;
    const child = { parent: this };
    const rn = (...thing: string[]) => resourceName(stack, "fly", "redis", ...thing);
    this.appName = cloudName(stack, "fly", "redis");

    const app = new App(rn("app"), { name: this.appName, org_slug: fly.org, network: flyNetwork(stack) }, child);
    const secrets = new Secrets(
      rn("secrets"),
      { app_name: app.name, values: {}, generate: [REDIS_PASSWORD_ENV] },
      child,
    );
    const volume = new Volume(
      rn("volume"),
      {
        app_name: app.name,
        name: REDIS_VOLUME_NAME,
        region: fly.primaryRegion,
        size_gb: fly.redis.volumeSizeGb,
        encrypted: true,
        snapshot_retention: REDIS_SNAPSHOT_DAYS,
        compute: guestOf(fly.redis.vmSize, fly.redis.memoryMb),
      },
      // The queues live on it: a replacement would start them empty.
      { ...child, protect: parseStackName(stack).kind === "prod" },
    );
    new Machine(
      rn("machine"),
      {
        app_name: app.name,
        name: cloudName(stack, "fly", "redis", "0"),
        region: fly.primaryRegion,
        config: volume.volume_id.apply((id) => redisMachineConfig(fly.redis, id, stack)),
        min_secrets_version: secrets.version,
      },
      child,
    );
    this.maxmemoryMb = redisServerSpec({ memoryMb: fly.redis.memoryMb }).maxmemoryMb;
    this.url = pulumi.secret(
      secrets.values.apply((v) => redisUrl(internalHost(this.appName), v[REDIS_PASSWORD_ENV] ?? "")),
    );
    this.registerOutputs({ appName: this.appName, url: this.url });
  }
}

export interface QueueWorkerArgs {
  stack: string;
  worker: string;
  spec: StackConfig["fly"]["queueWorkers"][string];
  region: string;
  org: string;
  redisUrl: pulumi.Output<string>;
  database: DatabaseConnection;
}

/** Plain env of a queue worker's machines (secrets come from the app's secrets). */
export function queueWorkerEnv(stack: string, worker: string, spec: QueueWorkerArgs["spec"]): Record<string, string> {
  return {
    MAUNTIC_STACK: stack,
    QUEUE_WORKER: worker,
    QUEUES: spec.queues.join(","),
    CONCURRENCY: String(spec.concurrency),
    BULLMQ_PREFIX: queuePrefix(stack),
    // What the worker has to finish its active jobs in after the stop signal.
    STOP_TIMEOUT_SECONDS: String(spec.stopTimeoutSeconds),
  };
}

export function queueWorkerMachineConfig(stack: string, worker: string, spec: QueueWorkerArgs["spec"]): MachineConfig {
  return {
    image: spec.image,
    guest: guestOf(spec.vmSize, spec.memoryMb),
    init: { cmd: spec.command },
    env: queueWorkerEnv(stack, worker, spec),
    restart: { policy: "always" },
    // Fly's default is SIGINT after 5 s: both set, the timeout covering the longest job (the config refuses less).
    stop_config: { signal: spec.stopSignal, timeout: `${spec.stopTimeoutSeconds}s` },
    // What the worker-stop-timeout policy compares stop_config.timeout with.
    metadata: {
      mauntic_stack: stack,
      mauntic_role: "queue-worker",
      mauntic_worker: worker,
      longest_job_seconds: String(spec.longestJobSeconds),
    },
  };
}

export class QueueWorker extends pulumi.ComponentResource {
  readonly appName: string;
  readonly machines: Machine[];

  constructor(name: string, args: QueueWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(FLY_QUEUE_WORKER_COMPONENT, name, {}, opts);
    const { stack, worker, spec, database } = args;
    const child = { parent: this };
    const rn = (...thing: string[]) => resourceName(stack, "fly", worker, ...thing);
    this.appName = cloudName(stack, "fly", worker);

    const app = new App(rn("app"), { name: this.appName, org_slug: args.org, network: flyNetwork(stack) }, child);
    const values: Record<string, pulumi.Input<string>> = { REDIS_URL: args.redisUrl };
    if (spec.databaseRole) {
      const role = database.workers[spec.databaseRole];
      if (!role) {
        throw new Error(
          `queue worker '${worker}': database role '${spec.databaseRole}' has no Neon role (allowed: ${Object.keys(database.workers).join(", ")})`,
        );
      }
      // The platform notes: Fly services connect through Neon's pooler, each worker as its own role.
      values.DATABASE_URL = postgresUri(role, database.pooledHost, database.databaseName);
    }
    const secrets = new Secrets(rn("secrets"), { app_name: app.name, values }, child);
    const config = queueWorkerMachineConfig(stack, worker, spec);
    this.machines = [];
    for (let i = 0; i < spec.count; i++) {
      const previous = this.machines[i - 1];
      this.machines.push(
        new Machine(
          rn("machine", String(i)),
          {
            app_name: app.name,
            name: cloudName(stack, "fly", worker, String(i)),
            region: args.region,
            config,
            min_secrets_version: secrets.version,
          },
          // One machine at a time: each update waits for its machine to be started before the next one begins.
          { ...child, dependsOn: previous ? [previous] : [] },
        ),
      );
    }
    this.registerOutputs({ appName: this.appName, machines: this.machines.length });
  }
}

/** Everything Fly for a stack, and its stack outputs. */
export function buildFly(
  stack: string,
  config: StackConfig,
  database: DatabaseConnection,
  opts?: pulumi.ComponentResourceOptions,
): Record<string, unknown> {
  const redis = new FlyRedis(resourceName(stack, "fly", "redis"), { stack, config }, opts);
  const workers: Record<string, { app: string; machines: number; queues: string[] }> = {};
  for (const [worker, spec] of Object.entries(config.fly.queueWorkers)) {
    const qw = new QueueWorker(
      resourceName(stack, "fly", worker),
      {
        stack,
        worker,
        spec,
        region: config.fly.primaryRegion,
        org: config.fly.org,
        redisUrl: redis.url,
        database,
      },
      opts,
    );
    workers[worker] = { app: qw.appName, machines: qw.machines.length, queues: spec.queues };
  }
  return {
    flyRedisApp: redis.appName,
    flyRedisUrl: redis.url,
    flyRedisMaxmemoryMb: redis.maxmemoryMb,
    flyQueuePrefix: queuePrefix(stack),
    flyQueueWorkers: workers,
  };
}
