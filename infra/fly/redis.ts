/**
 * The one definition of the Redis that BullMQ runs on: its options, the command that starts it, and the URL the
 * workers connect with. The Fly machine (./component.ts), the real-Redis test and the rehearsal all take their
 * Redis from here, so what is proven locally is what runs on Fly.
 */

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

export interface RedisServerOptions {
  /** The VM's memory; maxmemory is REDIS_MAXMEMORY_SHARE of it. */
  memoryMb: number;
  port?: number;
  dataDir?: string;
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
    // Every interface, IPv6 optional ("-" prefix, Redis 7): on Fly the 6PN address is IPv6 and there are no public
    // services, so only the app's private network reaches this port.
    "--bind", "* -::*",
    "--port", String(port),
    "--dir", dataDir,
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    // AOF is the durability story; RDB snapshots would add a second fork for nothing.
    "--save", "",
    "--maxmemory", `${maxmemory}mb`,
    "--maxmemory-policy", "noeviction",
  ];
  // `-` as the last argument makes redis-server also read config from stdin (Redis 7 main()). The password goes
  // there from the app secret, so it is in no file, no argv and no machine config. `exec` makes redis-server the
  // process Fly's init signals on stop. `${VAR:?}` refuses to start without a password.
  const script = [
    `exec redis-server ${args.map(shellWord).join(" ")} - <<EOF`,
    `requirepass \${${REDIS_PASSWORD_ENV}:?${REDIS_PASSWORD_ENV} is not set}`,
    "EOF",
  ].join("\n");
  return { args, command: ["/bin/sh", "-c", script], maxmemoryMb: maxmemory, port, dataDir };
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

/** A password Redis takes on a config line unquoted: 40 hex characters (160 bits). */
export function newRedisPassword(): string {
  const bytes = new Uint8Array(20);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
