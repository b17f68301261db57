/**
 * The one definition of the Redis that BullMQ runs on: its options, the command that starts it, and the URL the
 * workers connect with. The Fly machine (./component.ts), the real-Redis test and the rehearsal all take their
 * Redis from here, so what is proven locally is what runs on Fly.
 */
import type { RedisOptions } from "ioredis";

/** The port Redis listens on inside its Fly machine (reached over the 6PN private network only). */
export const REDIS_PORT = 6379;
/** Where the Fly volume is mounted: Redis keeps its AOF here. */
export const REDIS_DATA_DIR = "/data";
/** The app secret (an env var in the machine) the password comes from. */
export const REDIS_PASSWORD_ENV = "REDIS_PASSWORD";
/**
 * maxmemory as a share of the VM's memory. The rest is headroom for the AOF rewrite, which forks: under writes the
 * child's copy-on-write pages can approach the dataset's size (Redis docs, "Redis persistence"), plus the kernel and
 * Redis's own buffers. With noeviction, reaching maxmemory makes writes fail loudly instead of killing the VM.
 */
export const REDIS_MAXMEMORY_SHARE = 0.6;

/**
 * Every interface, IPv6 optional ("-" prefix, Redis 7): on Fly the 6PN address is IPv6 and there are no public
 * services, so only the app's private network reaches the port.
 */
export const BIND_ALL = "* -::*";

export interface RedisServerOptions {
  /** The VM's memory; maxmemory is REDIS_MAXMEMORY_SHARE of it. */
  memoryMb: number;
  port?: number;
  dataDir?: string;
  /** Addresses to listen on; default BIND_ALL (a local proof passes the loopback ones). */
  bind?: string;
  /** One node of a Sentinel-managed group (prod); absent: a lone Redis (dev, previews). */
  ha?: RedisHaNode;
}

/** A host and port: on Fly `<machine_id>.vm.<app>.internal` (stable per machine), locally a loopback name. */
export interface Endpoint {
  host: string;
  port: number;
}

/** A data node's place in the group: the bootstrap primary (node 0) or a replica of it. */
export interface RedisHaNode {
  /** Absent: this node starts as the primary; set: it starts as a replica of this address (node 0). */
  replicaOf?: Endpoint;
  /** `min-replicas-to-write`: with 2+ replicas, 1 (see minReplicasToWrite). */
  minReplicasToWrite: number;
}

export interface RedisServerSpec {
  /** redis-server's options, `--name value` pairs (no secret among them): what the plan and the policies read. */
  args: string[];
  /** argv that starts Redis: a POSIX shell that hands the password from REDIS_PASSWORD_ENV to redis-server. */
  command: string[];
  maxmemoryMb: number;
  port: number;
  dataDir: string;
}

export const maxmemoryMb = (memoryMb: number) => Math.floor(memoryMb * REDIS_MAXMEMORY_SHARE);

/** One POSIX shell word. */
const shellWord = (w: string) => (/^[A-Za-z0-9_./:=@-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/**
 * Redis for BullMQ. BullMQ's production guide: `maxmemory-policy noeviction` (evicted keys corrupt queues) and AOF
 * with `appendfsync everysec` (at most about a second of acknowledged writes lost on a crash).
 */
export function redisServerSpec(opts: RedisServerOptions): RedisServerSpec {
  const port = opts.port ?? REDIS_PORT;
  const dataDir = opts.dataDir ?? REDIS_DATA_DIR;
  const maxmemory = maxmemoryMb(opts.memoryMb);
  // prettier-ignore
  const args = [
    "--bind", opts.bind ?? BIND_ALL,
    "--port", String(port),
    "--dir", dataDir,
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    // AOF is the durability story; RDB snapshots would add a second fork for nothing.
    "--save", "",
    "--maxmemory", `${maxmemory}mb`,
    "--maxmemory-policy", "noeviction",
  ];
  if (opts.ha) {
    // prettier-ignore
    args.push(
      // A primary refuses writes when fewer replicas than this acknowledged within the lag: a primary cut off from
      // its replicas (and from the Sentinels, which promote another) stops taking jobs that the failover would drop
      // (Redis docs, "High availability with Redis Sentinel", example 2: min-replicas-to-write 1, max-lag 10).
      "--min-replicas-to-write", String(opts.ha.minReplicasToWrite),
      "--min-replicas-max-lag", String(MIN_REPLICAS_MAX_LAG_S),
    );
  }
  // `-` as the last argument makes redis-server also read config from stdin (Redis 7 main()). The password goes
  // there from the app secret, so it is in no file, no argv and no machine config. `exec` makes redis-server the
  // process Fly's init signals on stop. `${VAR:?}` refuses to start without a password.
  const pass = `\${${REDIS_PASSWORD_ENV}:?${REDIS_PASSWORD_ENV} is not set}`;
  const script = opts.ha
    ? [
        ANNOUNCE_SELF,
        `exec redis-server ${args.map(shellWord).join(" ")} - <<EOF`,
        `requirepass ${pass}`,
        // Replicas (and a former primary the Sentinels turn into one) authenticate to the primary with it.
        `masterauth ${pass}`,
        // What the primary's INFO lists for this replica, so the Sentinels and clients reach it by its stable name
        // (Fly docs, private networking: 6PN addresses change, `<machine_id>.vm.<app>.internal` does not).
        "replica-announce-ip $me",
        // The configured role at boot; after a failover the Sentinels re-point a node that comes back
        // (Redis docs, Sentinel: a returning old master is reconfigured as a replica).
        ...(opts.ha.replicaOf ? [`replicaof ${opts.ha.replicaOf.host} ${opts.ha.replicaOf.port}`] : []),
        "EOF",
      ].join("\n")
    : [`exec redis-server ${args.map(shellWord).join(" ")} - <<EOF`, `requirepass ${pass}`, "EOF"].join("\n");
  return { args, command: ["/bin/sh", "-c", script], maxmemoryMb: maxmemory, port, dataDir };
}

// ---- Sentinel (prod: a primary, replicas and 3 Sentinels, each on its own host) --------------------------------

/** Sentinel's default port (Redis docs, "High availability with Redis Sentinel"). */
export const SENTINEL_PORT = 26379;
/** The name the Sentinels monitor the group under; ioredis's `name` option. */
export const SENTINEL_MASTER_NAME = "mauntic";
/** Three Sentinels: the docs' smallest layout that survives one box ("Example 2: basic setup with three boxes"). */
export const SENTINEL_COUNT = 3;
/** Sentinels that must agree the primary is down; a failover also needs a majority of all Sentinels (2 of 3). */
export const SENTINEL_QUORUM = 2;
/** How long the primary must be unreachable before a Sentinel calls it down (the docs' example uses 5000). */
export const SENTINEL_DOWN_AFTER_MS = 5000;
/** Sentinel's failover-timeout (the docs' example value, 60000 ms; it also spaces retries of a failed failover). */
export const SENTINEL_FAILOVER_TIMEOUT_MS = 60_000;
/** min-replicas-max-lag: seconds since a replica's last acknowledgement (Redis default and the docs' example, 10). */
export const MIN_REPLICAS_MAX_LAG_S = 10;
/** Where a local run names a node; on Fly the script derives it from FLY_MACHINE_ID and FLY_APP_NAME. */
export const ANNOUNCE_HOST_ENV = "REDIS_ANNOUNCE_HOST";
/**
 * The node's own stable name: `<machine_id>.vm.<app>.internal` (Fly docs, private networking) from the env every
 * machine gets (Fly docs, "Machine runtime environment": FLY_MACHINE_ID, FLY_APP_NAME).
 */
const ANNOUNCE_SELF = `me="\${${ANNOUNCE_HOST_ENV}:-\${FLY_MACHINE_ID:?}.vm.\${FLY_APP_NAME:?}.internal}"`;

/** With 2+ replicas a primary keeps writing when one replica is lost; with 1 it would stop, so 0 then. */
export const minReplicasToWrite = (replicas: number) => (replicas >= 2 ? 1 : 0);

export interface SentinelOptions {
  /** The bootstrap primary (node 0): what a Sentinel monitors on its first boot. */
  primary: Endpoint;
  port?: number;
  /** Addresses to listen on; default BIND_ALL. */
  bind?: string;
  /** Where the Sentinel keeps the config file it rewrites with what it learns (its own Fly volume). */
  dataDir?: string;
}

export interface SentinelSpec {
  /** redis-sentinel's options that matter for failover, as `sentinel <name> ...` lines (no secret among them). */
  settings: string[];
  command: string[];
  port: number;
  dataDir: string;
}

/**
 * One Sentinel. It needs a config file it can rewrite (Redis docs: Sentinel refuses to start without one): written
 * on first boot to its volume, then kept, so a restarted Sentinel remembers the current primary and epoch.
 */
export function sentinelSpec(opts: SentinelOptions): SentinelSpec {
  const port = opts.port ?? SENTINEL_PORT;
  const dataDir = opts.dataDir ?? REDIS_DATA_DIR;
  const m = SENTINEL_MASTER_NAME;
  const conf = `${dataDir}/sentinel.conf`;
  // Hostnames in `monitor` and in what the Sentinels announce: Fly's 6PN addresses change, machine names do not
  // (Redis docs, Sentinel "IP addresses and DNS names": resolve-hostnames / announce-hostnames, Redis 6.2+).
  const first = [
    "sentinel resolve-hostnames yes",
    "sentinel announce-hostnames yes",
    `sentinel monitor ${m} ${opts.primary.host} ${opts.primary.port} ${SENTINEL_QUORUM}`,
  ];
  const settings = [
    `sentinel down-after-milliseconds ${m} ${SENTINEL_DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${m} ${SENTINEL_FAILOVER_TIMEOUT_MS}`,
    // One replica resyncs from the new primary at a time, the others keep serving (the docs' example value).
    `sentinel parallel-syncs ${m} 1`,
  ];
  const pass = `\${${REDIS_PASSWORD_ENV}:?${REDIS_PASSWORD_ENV} is not set}`;
  // prettier-ignore
  const args = ["--sentinel", "--bind", opts.bind ?? BIND_ALL, "--port", String(port)];
  const script = [
    ANNOUNCE_SELF,
    `conf=${shellWord(conf)}`,
    `[ -s "$conf" ] || printf '%s\\n' ${first.map(shellWord).join(" ")} > "$conf"`,
    // Config file, then stdin, then the options (Redis 7 main()): the password never reaches the argv.
    `exec redis-server "$conf" ${args.map(shellWord).join(" ")} - <<EOF`,
    // Clients (ioredis `sentinelPassword`) and the other Sentinels authenticate with it (sentinel.conf:
    // "Sentinel will try to authenticate with the same password to all the other Sentinels").
    `requirepass ${pass}`,
    `sentinel sentinel-pass ${pass}`,
    `sentinel auth-pass ${m} ${pass}`,
    "sentinel announce-ip $me",
    ...settings,
    "EOF",
  ].join("\n");
  return { settings: [...first, ...settings], command: ["/bin/sh", "-c", script], port, dataDir };
}

/** REDIS_SENTINELS: `host:port` of every Sentinel, comma-separated (an IPv6 literal in brackets). */
export const formatSentinels = (sentinels: Endpoint[]) =>
  sentinels.map(({ host, port }) => `${host.includes(":") ? `[${host}]` : host}:${port}`).join(",");

export function parseSentinels(value: string): Endpoint[] {
  return value.split(",").map((item) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(item.trim());
    if (!m) throw new Error(`REDIS_SENTINELS: '${item}' is not host:port (allowed: name:26379, [ipv6]:26379)`);
    return { host: m[1] ?? m[2]!, port: Number(m[3]) };
  });
}

/** The env a queue worker connects with: REDIS_URL (one machine) or the Sentinel form (prod). */
export interface RedisConnectionEnv {
  REDIS_URL?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_MASTER?: string;
  REDIS_PASSWORD?: string;
}

/**
 * What a worker hands ioredis (and BullMQ): the one reading of the env above, used by the proof the same way.
 * Sentinel form: ioredis asks the Sentinels for the primary (`sentinels`, `name`, `sentinelPassword`) and follows
 * a failover; `family: 6` because `.internal` names resolve to 6PN IPv6 only (ioredis passes `family` to its
 * Sentinel connections, SentinelConnector.connectToSentinel).
 */
export function redisConnection(env: RedisConnectionEnv): { url?: string; options: RedisOptions } {
  // BullMQ's workers need maxRetriesPerRequest null (BullMQ docs, "Connections"): commands wait for a reconnect.
  const base: RedisOptions = { maxRetriesPerRequest: null };
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_PASSWORD) throw new Error("REDIS_SENTINELS is set but REDIS_PASSWORD is not");
    return {
      options: {
        ...base,
        sentinels: parseSentinels(env.REDIS_SENTINELS),
        name: env.REDIS_SENTINEL_MASTER ?? SENTINEL_MASTER_NAME,
        password: env.REDIS_PASSWORD,
        sentinelPassword: env.REDIS_PASSWORD,
        family: 6,
        // A connection that lands on a node just demoted answers READONLY: reconnect, which asks the Sentinels
        // again (ioredis README, "Reconnect on Error").
        reconnectOnError: (err) => /READONLY/.test(err.message),
      },
    };
  }
  if (!env.REDIS_URL) throw new Error("neither REDIS_URL nor REDIS_SENTINELS is set");
  return { url: env.REDIS_URL, options: base };
}

/**
 * The URL BullMQ's ioredis connects with. On Fly, `<app>.internal` resolves to the machines' 6PN IPv6 addresses
 * only, and ioredis looks up IPv4 unless told otherwise: `family=6` (ioredis parseURL turns it into a number).
 */
export function redisUrl(host: string, password: string, port = REDIS_PORT): string {
  const h = host.includes(":") ? `[${host}]` : host; // an IPv6 literal (the local proof uses ::1)
  return `redis://default:${encodeURIComponent(password)}@${h}:${port}/0?family=6`;
}

/** `<app>.internal`: Fly's private DNS name for an app's started machines. */
export const internalHost = (app: string) => `${app}.internal`;

/** `<machine_id>.vm.<app>.internal`: one machine, stable while its 6PN address changes (Fly docs, private networking). */
export const machineHost = (app: string, machineId: string) => `${machineId}.vm.${app}.internal`;

/** A password Redis takes on a config line unquoted: 40 hex characters (160 bits). */
export function newRedisPassword(): string {
  const bytes = new Uint8Array(20);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
