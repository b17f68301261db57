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
import {
  REDIS_DATA_DIR,
  REDIS_PASSWORD_ENV,
  REDIS_PORT,
  SENTINEL_COUNT,
  SENTINEL_MASTER_NAME,
  SENTINEL_PORT,
  formatSentinels,
  internalHost,
  machineHost,
  minReplicasToWrite,
  redisServerSpec,
  redisUrl,
  sentinelSpec,
  type Endpoint,
  type RedisConnectionEnv,
  type RedisHaNode,
} from "./redis";
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

type RedisConfig = Omit<StackConfig["fly"]["redis"], "replicas">;

/** The Redis machine's whole config: command and options, volume mount, health check; no services, no password. */
export function redisMachineConfig(
  redis: RedisConfig,
  volumeId: string,
  stack: string,
  /** Its place in prod's Sentinel group; absent: the lone Redis of dev and previews. */
  ha?: RedisHaNode,
): MachineConfig {
  const spec = redisServerSpec({ memoryMb: redis.memoryMb, ha });
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

// ---- prod: replicas and Sentinels (fly.redis.replicas > 0) -------------------------------------------------------

/** A Sentinel's VM: the smallest Fly offers (it holds a few KB of state). */
export const SENTINEL_GUEST: MachineGuest = { cpu_kind: "shared", cpus: 1, memory_mb: 256 };
/** A Sentinel's volume: only its rewritten config file, so its host is pinned and its state survives restarts. */
export const SENTINEL_VOLUME_GB = 1;
/**
 * Every volume of a Sentinel group's app on a hardware zone of its own, "a different server" (Fly docs, volumes
 * overview; Machines API volumes resource: `require_unique_zone`, default true, "hardware that doesn't have another
 * volume with the same name"; fly-go CreateVolumeRequest `unique_zone_app_wide` widens it to every volume of the
 * app, as flyctl's `--unique-zone-app-wide`). A machine runs on its volume's host (Machines API, machines resource:
 * "A Machine can only mount to a volume that exists on the same host"), so no two Redis or Sentinel processes share
 * a host: a host loss takes at most one data node and one Sentinel's vote of three.
 */
export const HA_VOLUME_PLACEMENT = { require_unique_zone: true, unique_zone_app_wide: true } as const;

/** A Sentinel machine's whole config: the Sentinel command, its volume, a health check; no services, no password. */
export function sentinelMachineConfig(
  redis: RedisConfig,
  volumeId: string,
  stack: string,
  primary: Endpoint,
): MachineConfig {
  const spec = sentinelSpec({ primary });
  return {
    image: redis.image,
    guest: { ...SENTINEL_GUEST },
    init: { exec: spec.command },
    mounts: [{ volume: volumeId, path: spec.dataDir }],
    restart: { policy: "always" },
    checks: {
      sentinel: { type: "tcp", port: SENTINEL_PORT, interval: "15s", timeout: "2s", grace_period: "10s" },
    },
    stop_config: { ...REDIS_STOP },
    metadata: { mauntic_stack: stack, mauntic_role: "redis-sentinel" },
  };
}

/** Fly volume names of the group: node 0 keeps the lone Redis's name, so turning HA on keeps prod's queues. */
export const redisVolumeName = (node: number) => (node === 0 ? REDIS_VOLUME_NAME : `${REDIS_VOLUME_NAME}_${node}`);
export const sentinelVolumeName = (i: number) => `redis_sentinel_${i}`;

export interface FlyRedisArgs {
  stack: string;
  config: StackConfig;
}

export class FlyRedis extends pulumi.ComponentResource {
  readonly appName: string;
  /** `redis://default:<password>@<app>.internal:6379/0?family=6` (one machine) or the Sentinel list (prod): secret. */
  readonly url: pulumi.Output<string>;
  /** The env every queue worker connects with (REDIS_URL, or REDIS_SENTINELS + master + password): secret. */
  readonly connection: pulumi.Output<RedisConnectionEnv>;
  readonly maxmemoryMb: number;
  /** Data nodes (1 + fly.redis.replicas) and Sentinels (0 or SENTINEL_COUNT). */
  readonly nodes: number;
  readonly sentinels: number;

  constructor(name: string, args: FlyRedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super(FLY_REDIS_COMPONENT, name, {}, opts);
    const { stack, config } = args;
    const fly = config.fly;
    const replicas = fly.redis.replicas ?? 0;
    const child = { parent: this };
    const rn = (...thing: string[]) => resourceName(stack, "fly", "redis", ...thing);
    this.appName = cloudName(stack, "fly", "redis");
    const appName = this.appName;

    const app = new App(rn("app"), { name: this.appName, org_slug: fly.org, network: flyNetwork(stack) }, child);
    const secrets = new Secrets(
      rn("secrets"),
      { app_name: app.name, values: {}, generate: [REDIS_PASSWORD_ENV] },
      child,
    );
    const redisGuest = guestOf(fly.redis.vmSize, fly.redis.memoryMb);
    // Node i's volume (with the guest that will mount it, a placement hint): node 0's resource keeps its name, so prod's existing volume stays when HA is turned on.
    const volumeOf = (sizeGb: number, name: string, resource: string, compute: MachineGuest) => {
      const volumeArgs: ConstructorParameters<typeof Volume>[1] = {
        app_name: app.name,
        name,
        region: fly.primaryRegion,
        size_gb: sizeGb,
        encrypted: true,
        snapshot_retention: REDIS_SNAPSHOT_DAYS,
        compute,
        ...(replicas > 0 ? HA_VOLUME_PLACEMENT : {}),
      };
      // The queues (or a Sentinel's state) live on it: a replacement would start them empty.
      return new Volume(resource, volumeArgs, { ...child, protect: parseStackName(stack).kind === "prod" });
    };
    const ha = (node: number, primary?: Endpoint): RedisHaNode | undefined =>
      replicas > 0
        ? { replicaOf: node === 0 ? undefined : primary, minReplicasToWrite: minReplicasToWrite(replicas) }
        : undefined;

    const volume0 = volumeOf(fly.redis.volumeSizeGb, redisVolumeName(0), rn("volume"), redisGuest);
    const node0 = new Machine(
      rn("machine"),
      {
        app_name: app.name,
        name: cloudName(stack, "fly", "redis", "0"),
        region: fly.primaryRegion,
        config: volume0.volume_id.apply((id) => redisMachineConfig(fly.redis, id, stack, ha(0))),
        min_secrets_version: secrets.version,
      },
      child,
    );
    this.maxmemoryMb = redisServerSpec({ memoryMb: fly.redis.memoryMb }).maxmemoryMb;
    const password = secrets.values.apply((v) => v[REDIS_PASSWORD_ENV] ?? "");
    this.nodes = 1 + replicas;
    this.sentinels = replicas > 0 ? SENTINEL_COUNT : 0;

    if (replicas === 0) {
      this.url = pulumi.secret(password.apply((p) => redisUrl(internalHost(appName), p)));
      this.connection = pulumi.secret(this.url.apply((u): RedisConnectionEnv => ({ REDIS_URL: u })));
    } else {
      // ---- prod: replicas of node 0, then 3 Sentinels; each machine waits for the previous one (one at a time).
      const primary = node0.machine_id.apply((id): Endpoint => ({ host: machineHost(appName, id), port: REDIS_PORT }));
      let previous: Machine = node0;
      for (let n = 1; n <= replicas; n++) {
        const volume = volumeOf(fly.redis.volumeSizeGb, redisVolumeName(n), rn("volume", String(n)), redisGuest);
        previous = new Machine(
          rn("machine", String(n)),
          {
            app_name: app.name,
            name: cloudName(stack, "fly", "redis", String(n)),
            region: fly.primaryRegion,
            config: pulumi
              .all([volume.volume_id, primary])
              .apply(([id, p]) => redisMachineConfig(fly.redis, id, stack, ha(n, p))),
            min_secrets_version: secrets.version,
          },
          { ...child, dependsOn: [previous] },
        );
      }
      const sentinelHosts: pulumi.Output<Endpoint>[] = [];
      for (let i = 0; i < SENTINEL_COUNT; i++) {
        const volume = volumeOf(SENTINEL_VOLUME_GB, sentinelVolumeName(i), rn("sentinel", "volume", String(i)), SENTINEL_GUEST);
        previous = new Machine(
          rn("sentinel", String(i)),
          {
            app_name: app.name,
            name: cloudName(stack, "fly", "redis", "sentinel", String(i)),
            region: fly.primaryRegion,
            config: pulumi
              .all([volume.volume_id, primary])
              .apply(([id, p]) => sentinelMachineConfig(fly.redis, id, stack, p)),
            min_secrets_version: secrets.version,
          },
          { ...child, dependsOn: [previous] },
        );
        sentinelHosts.push(
          previous.machine_id.apply((id) => ({ host: machineHost(appName, id), port: SENTINEL_PORT })),
        );
      }
      const sentinelList = pulumi.all(sentinelHosts).apply(formatSentinels);
      this.url = pulumi.secret(sentinelList.apply((l) => `redis-sentinel://${SENTINEL_MASTER_NAME}@${l}`));
      this.connection = pulumi.secret(
        pulumi.all([sentinelList, password]).apply(([l, p]): RedisConnectionEnv => ({
          REDIS_SENTINELS: l,
          REDIS_SENTINEL_MASTER: SENTINEL_MASTER_NAME,
          REDIS_PASSWORD: p,
        })),
      );
    }
    this.registerOutputs({ appName: this.appName, url: this.url });
  }
}

export interface QueueWorkerArgs {
  stack: string;
  worker: string;
  spec: StackConfig["fly"]["queueWorkers"][string];
  region: string;
  org: string;
  /** The env the workers connect to Redis with (FlyRedis.connection). */
  redis: pulumi.Output<RedisConnectionEnv>;
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
    const values: Record<string, pulumi.Input<string>> = {};
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
    const secrets = new Secrets(
      rn("secrets"),
      {
        app_name: app.name,
        values: pulumi.all([args.redis, values]).apply(([r, v]) => ({ ...(r as Record<string, string>), ...v })),
      },
      child,
    );
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
        redis: redis.connection,
        database,
      },
      opts,
    );
    workers[worker] = { app: qw.appName, machines: qw.machines.length, queues: spec.queues };
  }
  return {
    flyRedisApp: redis.appName,
    flyRedisUrl: redis.url,
    flyRedisNodes: { data: redis.nodes, sentinels: redis.sentinels },
    flyRedisMaxmemoryMb: redis.maxmemoryMb,
    flyQueuePrefix: queuePrefix(stack),
    flyQueueWorkers: workers,
  };
}
