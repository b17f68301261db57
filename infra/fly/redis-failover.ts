/**
 * Prod's Redis group proven on real Redis: Debian's `redis-server` run with exactly the commands ./redis.ts gives
 * the Fly machines (the data nodes' and the Sentinels' `/bin/sh -c` scripts, the password and the node's own name
 * from the env, as on Fly), on loopback ports. BullMQ producers and workers connect the way the workers do
 * (`redisConnection` on the REDIS_SENTINELS env), the primary gets `kill -9` mid-run, and the report says how long
 * the failover took, how many jobs were acknowledged and whether any of them was lost. Then the killed node is
 * started again with its unchanged command and must come back as a replica. Used by the test and the benchmark.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";
import { queuePrefix } from "./component";
import {
  ANNOUNCE_HOST_ENV,
  REDIS_PASSWORD_ENV,
  SENTINEL_COUNT,
  SENTINEL_MASTER_NAME,
  formatSentinels,
  minReplicasToWrite,
  newRedisPassword,
  redisConnection,
  redisServerSpec,
  sentinelSpec,
  type Endpoint,
} from "./redis";
import { INSTALL_HINT, freePort, redisServerPath, sleep, until } from "./redis-proof";

/**
 * Local stand-in for `<machine_id>.vm.<app>.internal`, which resolves to IPv6 only: the IPv6 loopback (a name with
 * only an AAAA record cannot be counted on here: `localhost` is often IPv4 only in /etc/hosts).
 */
const LOCAL_HOST = "::1";
/** Local runs listen on loopback only (the machines listen on every interface of their private VM). */
const LOCAL_BIND = "127.0.0.1 -::1";

export interface FailoverOptions {
  /** The VM memory maxmemory is sized from (prod's fly.redis.memoryMb). */
  memoryMb: number;
  /** Replicas beside the primary (prod's fly.redis.replicas). */
  replicas: number;
  stack?: string;
  /** Jobs added before the kill (at least 1500 ms so some are acknowledged > 1 s before it). */
  beforeKillMs?: number;
  /** Jobs still added once the group takes writes again. */
  afterResumeMs?: number;
  producers?: number;
  workers?: number;
  /** Give up on the failover after this long (the benchmark's target is 30 s). */
  failoverTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface FailoverReport {
  ok: boolean;
  /** Set when redis-server is missing: nothing ran. */
  skipped?: string;
  redisVersion: string;
  dataNodes: number;
  sentinels: number;
  oldPrimary: string;
  newPrimary: string;
  /** kill -9 of the primary until the Sentinels name another one. */
  failoverMs: number;
  /** kill -9 until the first job sent after it is acknowledged (producers retry what fails meanwhile). */
  resumeMs: number;
  jobsAcked: number;
  jobsAckedBeforeKill: number;
  /** Acknowledged 1 s or more before the kill. */
  jobsAckedBeforeCutoff: number;
  jobsProcessed: number;
  /** Of those acknowledged >= 1 s before the kill: neither processed nor in the queue after the failover. */
  lostBeforeCutoff: number;
  /** Of every acknowledged job, the last second before the kill included. */
  lostAll: number;
  /** Acknowledged but not processed by the end of the run (still queued: not lost). */
  unprocessed: number;
  /** Adds that failed and were retried with the same jobId (during the failover). */
  addRetries: number;
  /** The killed node, started again with its own command, until it replicates from the new primary. */
  rejoinMs: number;
  /** Every redis-server process the proof started (all gone when it returns). */
  pids: number[];
  /** Processes still working in the proof's directory after it stopped everything (must be 0). */
  strays: number;
  problems: string[];
}

/**
 * Live processes working in `dir`: redis-server's own forks (a replica's RDB transfer, an AOF rewrite) outlive a
 * `kill -9` of their parent for a moment and are nobody's child here; their working directory is the node's dir.
 */
export function processesIn(dir: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return []; // no /proc: nothing to look at
  }
  return pids.flatMap((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`).startsWith(dir) ? [Number(pid)] : [];
    } catch {
      return []; // gone, a zombie, or not ours to read
    }
  });
}

interface Proc {
  name: string;
  endpoint: Endpoint;
  command: string[];
  dir: string;
  child?: ChildProcess;
}

/** Runs the proof; never throws for a failed check (they are in `problems`), only for a broken environment. */
export async function proveFailover(opts: FailoverOptions): Promise<FailoverReport> {
  const log = opts.log ?? (() => undefined);
  const report: FailoverReport = {
    ok: false,
    redisVersion: "",
    dataNodes: 1 + opts.replicas,
    sentinels: SENTINEL_COUNT,
    oldPrimary: "",
    newPrimary: "",
    failoverMs: NaN,
    resumeMs: NaN,
    jobsAcked: 0,
    jobsAckedBeforeKill: 0,
    jobsAckedBeforeCutoff: 0,
    jobsProcessed: 0,
    lostBeforeCutoff: 0,
    lostAll: 0,
    unprocessed: 0,
    addRetries: 0,
    rejoinMs: NaN,
    pids: [],
    strays: 0,
    problems: [],
  };
  if (!redisServerPath()) {
    report.skipped = INSTALL_HINT;
    return report;
  }
  if (opts.replicas < 1) throw new Error(`replicas: ${opts.replicas} (allowed: >= 1; failover needs a replica)`);
  const root = mkdtempSync(join(tmpdir(), "mauntic-redis-ha-"));
  const password = newRedisPassword();
  const procs: Proc[] = [];
  const clients: IORedis[] = [];
  const queues: Queue[] = [];
  const workers: Worker[] = [];
  // Whatever happens to this process, no redis-server outlives it.
  const killAll = () => {
    for (const p of procs)
      if (p.child && p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  };
  process.once("exit", killAll);

  const start = (p: Proc) => {
    // The env a Fly machine gives the script: the app secret; the node's name (on Fly from FLY_MACHINE_ID).
    const child = spawn(p.command[0]!, p.command.slice(1), {
      cwd: p.dir,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        [REDIS_PASSWORD_ENV]: password,
        [ANNOUNCE_HOST_ENV]: LOCAL_HOST,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail: string[] = [];
    const keep = (d: Buffer) => {
      for (const line of d.toString().split("\n").filter(Boolean)) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (/[#] |WARNING|error/i.test(line)) log(`${p.name}: ${line.trim()}`);
      }
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.once("exit", (code, signal) => {
      if (signal !== "SIGKILL") log(`${p.name} exited (${code ?? signal}): ${tail.slice(-5).join(" | ")}`);
    });
    p.child = child;
    if (child.pid) report.pids.push(child.pid);
  };
  const admin = (e: Endpoint) => {
    const c = new IORedis({
      host: e.host,
      port: e.port,
      family: 6,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableReadyCheck: false,
      connectTimeout: 1000,
    });
    c.on("error", () => undefined);
    return c;
  };
  /** One command on a fresh connection (a node may be down: the caller's `until` retries). */
  const ask = async (e: Endpoint, ...args: (string | number)[]): Promise<unknown> => {
    const c = admin(e);
    try {
      await c.connect();
      return await c.call(String(args[0]), ...args.slice(1));
    } finally {
      c.disconnect();
    }
  };

  try {
    // Ports first: the replicas' and Sentinels' commands name the primary's.
    const dataPorts: number[] = [];
    for (let i = 0; i <= opts.replicas; i++) dataPorts.push(await freePort());
    const sentinelPorts: number[] = [];
    for (let i = 0; i < SENTINEL_COUNT; i++) sentinelPorts.push(await freePort());
    const primary: Endpoint = { host: LOCAL_HOST, port: dataPorts[0]! };
    dataPorts.forEach((port, i) => {
      const dir = join(root, `redis-${i}`);
      mkdirSync(dir);
      const spec = redisServerSpec({
        memoryMb: opts.memoryMb,
        port,
        dataDir: dir,
        bind: LOCAL_BIND,
        ha: { replicaOf: i === 0 ? undefined : primary, minReplicasToWrite: minReplicasToWrite(opts.replicas) },
      });
      procs.push({ name: `redis-${i}`, endpoint: { host: LOCAL_HOST, port }, command: spec.command, dir });
    });
    const sentinels: Endpoint[] = [];
    sentinelPorts.forEach((port, i) => {
      const dir = join(root, `sentinel-${i}`);
      mkdirSync(dir);
      const spec = sentinelSpec({ primary, port, dataDir: dir, bind: LOCAL_BIND });
      procs.push({ name: `sentinel-${i}`, endpoint: { host: LOCAL_HOST, port }, command: spec.command, dir });
      sentinels.push({ host: LOCAL_HOST, port });
    });
    const data = procs.slice(0, dataPorts.length);
    const sentinelProcs = procs.slice(dataPorts.length);
    for (const p of procs) start(p);

    // The group settles: every replica linked, every Sentinel knowing the replicas and the other Sentinels.
    await until(
      "the replicas replicate from the primary",
      async () => {
        for (const p of data.slice(1)) {
          const info = String(await ask(p.endpoint, "INFO", "replication"));
          if (!/master_link_status:up/.test(info)) return undefined;
        }
        return true;
      },
      30_000,
    );
    await until(
      "the Sentinels know the replicas and each other",
      async () => {
        for (const s of sentinelProcs) {
          const flat = (await ask(s.endpoint, "SENTINEL", "MASTER", SENTINEL_MASTER_NAME)) as string[];
          const m = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
          if (Number(m["num-slaves"]) !== opts.replicas || Number(m["num-other-sentinels"]) !== SENTINEL_COUNT - 1)
            return undefined;
        }
        return true;
      },
      60_000,
    );
    report.redisVersion = /redis_version:(\S+)/.exec(String(await ask(primary, "INFO", "server")))?.[1] ?? "?";
    const masterOf = async (): Promise<string> => {
      for (const s of sentinels) {
        try {
          const a = (await ask(s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER_NAME)) as string[];
          if (a) return `${a[0]}:${a[1]}`;
        } catch {
          /* this Sentinel is not answering: ask the next */
        }
      }
      return "";
    };
    report.oldPrimary = await masterOf();
    log(`group up: primary ${report.oldPrimary}, ${opts.replicas} replica(s), ${SENTINEL_COUNT} Sentinels`);

    // BullMQ exactly as a worker connects: the env the QueueWorker app gets, read by redisConnection.
    const env = {
      REDIS_SENTINELS: formatSentinels(sentinels),
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER_NAME,
      REDIS_PASSWORD: password,
    };
    const connect = () => {
      const { options } = redisConnection(env);
      const c = new IORedis(options);
      c.on("error", () => undefined); // reconnects are expected around the kill
      clients.push(c);
      return c;
    };
    const prefix = queuePrefix(opts.stack ?? "prod");
    const name = "failover-proof";
    const processed = new Set<string>();
    for (let w = 0; w < (opts.workers ?? 2); w++) {
      const worker = new Worker(name, async (job) => void processed.add(job.id!), {
        connection: connect(),
        prefix,
        concurrency: 10,
        // A job active on the killed primary is taken back as stalled once its lock lapses: shorter than BullMQ's
        // 30 s defaults so the proof's run stays short (the machines' workers keep their own settings).
        lockDuration: 5000,
        stalledInterval: 2000,
      });
      worker.on("error", () => undefined);
      workers.push(worker);
    }
    /** Each acknowledged add: when it was sent and when its answer came. */
    const acked: { id: string; sent: number; at: number }[] = [];
    let producing = true;
    const producers = Array.from({ length: opts.producers ?? 2 }, async (_, p) => {
      const queue = new Queue(name, { connection: connect(), prefix });
      queue.on("error", () => undefined); // the failover's connection errors: the adds below retry
      queues.push(queue);
      for (let i = 0; producing; i++) {
        const jobId = `p${p}-${i}`;
        // A producer retries with the same jobId (BullMQ ignores a second add of an existing id): what a
        // failover's errors (connection closed, NOREPLICAS while the new primary's replicas attach) ask for.
        for (;;) {
          const sent = Date.now();
          try {
            await queue.add("step", { p, i }, { jobId, removeOnComplete: false });
            acked.push({ id: jobId, sent, at: Date.now() });
            break;
          } catch {
            report.addRetries++;
            await sleep(100);
          }
        }
      }
    });

    await sleep(Math.max(1500, opts.beforeKillMs ?? 3000));
    const victim = data[0]!;
    const killedAt = Date.now();
    victim.child!.kill("SIGKILL");
    await new Promise((r) => victim.child!.once("exit", r));
    report.jobsAckedBeforeKill = acked.length;
    log(`kill -9 ${victim.name} (the primary) after ${acked.length} jobs acknowledged`);

    const failoverTimeout = opts.failoverTimeoutMs ?? 60_000;
    report.newPrimary = await until(
      "the Sentinels promote a replica",
      async () => {
        const m = await masterOf();
        return m && m !== report.oldPrimary ? m : undefined;
      },
      failoverTimeout,
    ).catch((e: Error) => {
      report.problems.push(e.message);
      return "";
    });
    if (report.newPrimary) report.failoverMs = Date.now() - killedAt;
    // An answer already on its way when the primary died does not count: only adds sent after the kill.
    await until(
      "a job sent after the kill acknowledged",
      async () => (acked.some((a) => a.sent > killedAt) ? true : undefined),
      failoverTimeout,
    ).catch((e: Error) => report.problems.push(e.message));
    const firstAfter = acked.find((a) => a.sent > killedAt);
    if (firstAfter) report.resumeMs = firstAfter.at - killedAt;
    log(
      `new primary ${report.newPrimary || "(none)"} after ${report.failoverMs} ms; jobs again after ${report.resumeMs} ms`,
    );

    await sleep(opts.afterResumeMs ?? 2000);
    producing = false;
    await Promise.all(producers);
    report.jobsAcked = acked.length;

    // The old primary, started again with its unchanged command (as Fly restarts a machine), must follow the
    // new primary (the Sentinels convert it) instead of serving its stale data as a second primary.
    const t0 = Date.now();
    start(victim);
    await until(
      `${victim.name} back as a replica of the new primary`,
      async () => {
        const info = String(await ask(victim.endpoint, "INFO", "replication"));
        return /role:slave/.test(info) && /master_link_status:up/.test(info) ? true : undefined;
      },
      60_000,
    )
      .then(() => (report.rejoinMs = Date.now() - t0))
      .catch((e: Error) => report.problems.push(e.message));

    // Every acknowledged job processed (those active at the kill come back as stalled), or at least still queued.
    await until(
      "the workers process every acknowledged job",
      async () => (acked.every((a) => processed.has(a.id)) ? true : undefined),
      30_000,
    ).catch(() => undefined);
    const queue = queues[0]!;
    const cutoff = killedAt - 1000;
    for (const a of acked) {
      if (processed.has(a.id)) continue;
      const present = await queue.getJob(a.id);
      if (present) report.unprocessed++;
      else {
        report.lostAll++;
        if (a.at <= cutoff) report.lostBeforeCutoff++;
      }
    }
    const early = acked.filter((a) => a.at <= cutoff);
    report.jobsAckedBeforeCutoff = early.length;
    report.jobsProcessed = processed.size;
    const earlyUnprocessed = early.filter((a) => !processed.has(a.id)).length;

    if (early.length === 0) report.problems.push("no job was acknowledged 1 s or more before the kill");
    if (report.lostBeforeCutoff > 0)
      report.problems.push(`${report.lostBeforeCutoff} job(s) acknowledged >= 1 s before the kill were lost`);
    if (earlyUnprocessed > 0)
      report.problems.push(`${earlyUnprocessed} job(s) acknowledged >= 1 s before the kill were never processed`);
    if (!(report.jobsAcked > report.jobsAckedBeforeKill)) report.problems.push("no job was added after the kill");
    report.ok = report.problems.length === 0;
    return report;
  } finally {
    await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
    await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    for (const c of clients) c.disconnect();
    killAll();
    await Promise.all(
      procs.map((p) =>
        p.child && p.child.exitCode === null && p.child.signalCode === null
          ? new Promise((r) => p.child!.once("exit", r))
          : undefined,
      ),
    );
    process.removeListener("exit", killAll);
    for (let i = 0; i < 50; i++) {
      const left = processesIn(root);
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* exited meanwhile */
        }
      }
      await sleep(100);
    }
    report.strays = processesIn(root).length;
    rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** The lines the benchmark and the test print. */
export function renderFailover(r: FailoverReport): string[] {
  if (r.skipped) return [`redis failover: skipped: ${r.skipped}`];
  return [
    `redis failover: redis-server ${r.redisVersion}, ${r.dataNodes} data nodes + ${r.sentinels} Sentinels with the Fly machines' commands; kill -9 of the primary ${r.oldPrimary} mid-run`,
    `redis failover: new primary ${r.newPrimary || "(none)"} after ${r.failoverMs} ms; jobs acknowledged again after ${r.resumeMs} ms (${r.addRetries} add(s) retried meanwhile)`,
    `redis failover: jobs acknowledged ${r.jobsAcked} (${r.jobsAckedBeforeKill} before the kill, ${r.jobsAckedBeforeCutoff} of them >= 1 s before), processed ${r.jobsProcessed}, still queued ${r.unprocessed}`,
    `redis failover: lost ${r.lostBeforeCutoff} of the ${r.jobsAckedBeforeCutoff} acknowledged >= 1 s before the kill; lost ${r.lostAll} of all ${r.jobsAcked}`,
    `redis failover: the killed node, restarted with its own command, replicates the new primary after ${r.rejoinMs} ms`,
    `redis failover: redis processes started ${r.pids.length}, left running ${r.strays}`,
    ...r.problems.map((p) => `redis failover: PROBLEM: ${p}`),
  ];
}
