/**
 * The Redis for BullMQ proven on a real Redis: runs Debian's `redis-server` with exactly what ./redis.ts gives the
 * Fly machine (the same wrapper command and options, the password read from the environment) and
 * connects with exactly the REDIS_URL form the workers get (`family=6`, here over ::1). Checks: CONFIG GET, a client
 * without the password refused, a BullMQ queue and worker processing jobs, and `kill -9` of redis-server mid-run then
 * a restart on the same data dir losing no job acknowledged more than a second before the kill. Used by the test and
 * by the rehearsal (`npm start`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";
import { REDIS_PASSWORD_ENV, newRedisPassword, redisServerSpec, redisUrl } from "./redis";
import { queuePrefix } from "./component";

export const INSTALL_HINT =
  "redis-server is not installed: on Debian/Ubuntu `sudo apt-get install -y redis-server` (CI: .ci/run does it), on macOS `brew install redis`";

export interface RedisProofReport {
  ok: boolean;
  /** Set when redis-server is missing: nothing ran. */
  skipped?: string;
  redisVersion: string;
  config: Record<string, string>;
  expectedMaxmemoryBytes: number;
  /** The error a client without the password got. */
  refusedWithoutPassword: string;
  refusedWrongPassword: string;
  /** The password in redis-server's argv or in the machine's command (must be false). */
  passwordExposed: boolean;
  jobsAdded: number;
  /** Jobs acknowledged as added more than 1 s before the kill. */
  jobsAckedBeforeCutoff: number;
  jobsProcessed: number;
  /** Jobs acknowledged more than 1 s before the kill that no longer exist after the restart. */
  jobsLost: number;
  restartMs: number;
  problems: string[];
}

/** redis-server on PATH (the wrapper command finds it the same way), or undefined. */
export function redisServerPath(path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not in this directory */
    }
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ""}`);
    await sleep(25);
  }
}

export interface RedisProofOptions {
  /** The VM memory the spec sizes maxmemory from (a stack's fly.redis.memoryMb). */
  memoryMb: number;
  /** The stack whose queue prefix the BullMQ queue uses. */
  stack?: string;
  /** How long jobs are added before the kill (at least 1.5 s so some are acknowledged > 1 s before it). */
  addForMs?: number;
  log?: (line: string) => void;
}

/** Runs the proof; never throws for a failed check (they are in `problems`), only for a broken environment. */
export async function proveRedis(opts: RedisProofOptions): Promise<RedisProofReport> {
  const log = opts.log ?? (() => undefined);
  const report: RedisProofReport = {
    ok: false,
    redisVersion: "",
    config: {},
    expectedMaxmemoryBytes: 0,
    refusedWithoutPassword: "",
    refusedWrongPassword: "",
    passwordExposed: false,
    jobsAdded: 0,
    jobsAckedBeforeCutoff: 0,
    jobsProcessed: 0,
    jobsLost: 0,
    restartMs: 0,
    problems: [],
  };
  if (!redisServerPath()) {
    report.skipped = INSTALL_HINT;
    return report;
  }
  const dir = mkdtempSync(join(tmpdir(), "mauntic-redis-"));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const port = await freePort();
  const spec = redisServerSpec({ memoryMb: opts.memoryMb, port, dataDir });
  const password = newRedisPassword();
  report.expectedMaxmemoryBytes = spec.maxmemoryMb * 1024 * 1024;
  // Exactly the production URL form, on the IPv6 loopback as Fly's 6PN is IPv6.
  const url = redisUrl("::1", password, port);
  const start = (): ChildProcess => {
    const child = spawn(spec.command[0]!, spec.command.slice(1), {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", [REDIS_PASSWORD_ENV]: password },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.on("data", (d: Buffer) => log(`redis-server: ${d.toString().trim()}`));
    return child;
  };
  const ready = () =>
    until(
      "redis-server accepting authenticated clients",
      async () => {
        const c = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on("error", () => undefined); // not up yet: try again
        try {
          await c.connect();
          return (await c.ping()) === "PONG" ? true : undefined;
        } finally {
          c.disconnect();
        }
      },
      15_000,
    );
  const connections: IORedis[] = [];
  const connect = () => {
    const c = new IORedis(url, { maxRetriesPerRequest: null });
    c.on("error", () => undefined); // reconnects are expected around the kill
    connections.push(c);
    return c;
  };
  let server = start();
  let queue: Queue | undefined;
  let worker: Worker | undefined;
  try {
    await ready();
    const admin = connect();
    const info = await admin.info("server");
    report.redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
    for (const key of ["maxmemory-policy", "appendonly", "appendfsync", "maxmemory"]) {
      const [, value] = (await admin.config("GET", key)) as string[];
      report.config[key] = value ?? "";
    }
    const want: Record<string, string> = {
      "maxmemory-policy": "noeviction",
      appendonly: "yes",
      appendfsync: "everysec",
      maxmemory: String(report.expectedMaxmemoryBytes),
    };
    for (const [k, v] of Object.entries(want)) {
      if (report.config[k] !== v) report.problems.push(`CONFIG GET ${k} is '${report.config[k]}' (allowed: ${v})`);
    }

    // What Redis answers a client: the first error, from the handshake (AUTH) or from the first command.
    const refused = async (u: string) => {
      const c = new IORedis(u, {
        lazyConnect: true,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      let first = "";
      c.on("error", (e: Error) => (first ||= e.message));
      try {
        await c.connect();
        await c.ping();
        return first;
      } catch (e) {
        return first || (e as Error).message;
      } finally {
        c.disconnect();
      }
    };
    report.refusedWithoutPassword = await refused(`redis://[::1]:${port}/0?family=6`);
    report.refusedWrongPassword = await refused(redisUrl("::1", "not-the-password", port));
    if (!/NOAUTH/.test(report.refusedWithoutPassword)) {
      report.problems.push(
        `a client without the password was not refused (${report.refusedWithoutPassword || "PONG"})`,
      );
    }
    if (!/WRONGPASS/.test(report.refusedWrongPassword)) {
      report.problems.push(`a client with a wrong password was not refused (${report.refusedWrongPassword || "PONG"})`);
    }
    const cmdline = readFileSync(`/proc/${server.pid}/cmdline`, "utf8").replace(/\0/g, " ");
    report.passwordExposed = cmdline.includes(password) || spec.command.join(" ").includes(password);
    if (report.passwordExposed) report.problems.push("the password is in redis-server's argv or the machine's command");

    // BullMQ on it: a queue under the stack's prefix, a worker, jobs added while the worker runs.
    const prefix = queuePrefix(opts.stack ?? "dev");
    const name = "proof";
    queue = new Queue(name, { connection: connect(), prefix });
    const processed = new Set<string>();
    worker = new Worker(name, async (job) => void processed.add(job.id!), {
      connection: connect(),
      prefix,
      concurrency: 10,
    });
    worker.on("error", () => undefined);
    const acked: { id: string; at: number }[] = [];
    let adding = true;
    const adder = (async () => {
      for (let i = 0; adding; i++) {
        const job = await queue!.add("step", { i }, { jobId: `job-${i}`, removeOnComplete: false });
        acked.push({ id: job.id!, at: Date.now() });
      }
    })();
    await sleep(Math.max(1500, opts.addForMs ?? 2000));
    // Mid-run: jobs still being added and processed.
    adding = false;
    const killedAt = Date.now();
    server.kill("SIGKILL");
    await new Promise((r) => server.once("exit", r));
    log(`redis-server killed (-9) after ${acked.length} jobs acknowledged`);
    const t0 = performance.now();
    server = start();
    await ready();
    report.restartMs = Math.round(performance.now() - t0);
    await adder;
    const cutoff = killedAt - 1000;
    const early = acked.filter((a) => a.at < cutoff);
    report.jobsAdded = acked.length;
    report.jobsAckedBeforeCutoff = early.length;
    // Let the worker drain what is waiting; jobs that were active at the kill stay where they are (BullMQ retries
    // them as stalled after lockDuration): present, not lost.
    await until(
      "the worker drains the queue",
      async () => ((await queue!.getWaitingCount()) === 0 ? true : undefined),
      20_000,
    );
    for (const { id } of early) if (!(await queue.getJob(id))) report.jobsLost++;
    report.jobsProcessed = processed.size;
    if (processed.size === 0) report.problems.push("the worker processed no job");
    if (early.length === 0) report.problems.push("no job was acknowledged more than 1 s before the kill");
    if (report.jobsLost > 0)
      report.problems.push(`${report.jobsLost} acknowledged job(s) lost after kill -9 and restart`);
    report.ok = report.problems.length === 0;
    return report;
  } finally {
    await worker?.close(true).catch(() => undefined);
    await queue?.close().catch(() => undefined);
    for (const c of connections) c.disconnect();
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The lines the rehearsal and the test print. */
export function renderRedisProof(r: RedisProofReport): string[] {
  if (r.skipped) return [`redis: skipped: ${r.skipped}`];
  return [
    `redis: redis-server ${r.redisVersion} with the Fly machine's config: maxmemory-policy ${r.config["maxmemory-policy"]}, appendonly ${r.config.appendonly}, appendfsync ${r.config.appendfsync}, maxmemory ${r.config.maxmemory} bytes`,
    `redis: without the password: ${r.refusedWithoutPassword.split("\n")[0]}; wrong password: ${r.refusedWrongPassword.split("\n")[0]}`,
    `redis: BullMQ jobs added ${r.jobsAdded}, processed ${r.jobsProcessed}, lost after kill -9 and restart ${r.jobsLost} (of ${r.jobsAckedBeforeCutoff} acknowledged > 1 s before the kill; restart took ${r.restartMs} ms)`,
    ...r.problems.map((p) => `redis: PROBLEM: ${p}`),
  ];
}
