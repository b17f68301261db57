/**
 * The runner's sessions: URL checks before any connection, and the session settings every migration relies on.
 */
import { Client } from "pg";
import { isPoolerHost } from "../../infra/neon/hosts";
import { InputError, RunnerError } from "./errors";
import { fmtMs } from "./report";

export const APPLICATION_NAME = "mauntic-migrate";

/** Default bound of a connection's startup (TCP, TLS, authentication), until the server is ready for queries. */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Idle time before TCP keepalive probes start. libuv (>= 1.35, Node 20 ships 1.46) then sends 10 probes 1 s apart
 * (libuv/libuv#2669), so a peer that vanished mid-statement is noticed about 20 s later instead of never.
 */
const KEEPALIVE_IDLE_MS = 10_000;

export interface SessionSettings {
  /** Bounds every lock wait (writers queue behind a waiting DDL lock for at most this long). */
  lockTimeoutMs: number;
  /** Bounds every statement of the session; index builds lift it for themselves (see build-wait.ts). */
  statementTimeoutMs: number;
  /** How often a running statement checks that the runner is still there (a killed runner's build stops). */
  connectionCheckMs: number;
}

/**
 * Checks a database URL without connecting. Refuses Neon's `-pooler` host: PgBouncer in transaction mode drops
 * session advisory locks and SET between statements, so one-run-at-a-time and lock_timeout would silently vanish.
 */
export function checkDatabaseUrl(url: string | undefined): URL {
  if (!url) {
    throw new InputError("no database URL (allowed: --database-url postgres://... or the DATABASE_URL variable)");
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError("the database URL is not a URL (allowed: postgres://user:password@host:5432/database)");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new InputError(`the database URL has scheme '${parsed.protocol}' (allowed: postgres:, postgresql:)`);
  }
  const hosts = [parsed.hostname, ...parsed.searchParams.getAll("host")].filter(Boolean);
  const pooler = hosts.find(isPoolerHost);
  if (pooler) {
    throw new InputError(
      `host '${pooler}' is Neon's transaction-mode pooler: session advisory locks and SET do not survive it (allowed: the endpoint's direct host, without '-pooler')`,
    );
  }
  if (hosts.length === 0)
    throw new InputError("the database URL has no host (allowed: postgres://user:password@host/db)");
  return parsed;
}

/** Where a URL points, for messages: never the password. */
export function describeUrl(url: URL): string {
  return `${url.hostname}${url.port ? `:${url.port}` : ""}${url.pathname}`;
}

/**
 * Session settings as one multi-statement string, sent in the same round trip as the first query. SET rather
 * than startup options: every proxy in front of Postgres forwards SQL, not all forward `options`.
 */
export function settingsSql(s: SessionSettings): string {
  return [
    timeoutsSql(s),
    // A runner stopped mid-transaction (SIGSTOP, a frozen VM) must not hold its locks for ever.
    `SET idle_in_transaction_session_timeout = '${Math.round(s.statementTimeoutMs)}ms'`,
    `SET client_connection_check_interval = '${Math.round(s.connectionCheckMs)}ms'`,
  ].join("; ");
}

/**
 * The two bounds every statement runs under: lock_timeout bounds how long writers can queue behind a lock the
 * runner waits for; statement_timeout bounds everything else. Index builds lift both for themselves.
 */
export function timeoutsSql(s: Pick<SessionSettings, "lockTimeoutMs" | "statementTimeoutMs">): string {
  return `SET lock_timeout = '${Math.round(s.lockTimeoutMs)}ms'; SET statement_timeout = '${Math.round(s.statementTimeoutMs)}ms'`;
}

/** One line per way a connection fails, saying what to check; the host is named, never the password. */
export function connectionFailure(e: unknown, where: string, connectTimeoutMs: number): RunnerError {
  const err = e as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  let check: string;
  if (/timeout expired/.test(msg)) {
    check = `no answer within the connect timeout ${fmtMs(connectTimeoutMs)} (check: the host and port, that the endpoint is running (a suspended Neon compute wakes in a few seconds), that no firewall or VPN drops the traffic; raise --connect-timeout on a slow network)`;
  } else if (err.code === "ECONNREFUSED") {
    check = "connection refused (check: the port, and that PostgreSQL listens on this host)";
  } else if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") {
    check = "host not found (check: the host name in the URL, and DNS)";
  } else if (err.code === "28P01" || err.code === "28000") {
    check = `${msg} (check: the user and password in the URL, and that the role may log in)`;
  } else if (err.code === "3D000") {
    check = `${msg} (check: the database name in the URL)`;
  } else if (/SSL|TLS|certificate/i.test(msg)) {
    check = `${msg} (check: sslmode in the URL; Neon requires sslmode=require)`;
  } else if (/terminated|ECONNRESET|EPIPE/.test(msg + (err.code ?? ""))) {
    check = `${msg} (check: that the port is PostgreSQL's, and sslmode; the server closed the connection during startup)`;
  } else {
    check = `${msg} (check: the URL, and that the server is reachable from here)`;
  }
  return new RunnerError(`cannot connect to ${where}: ${check}`);
}

export async function openClient(
  url: string,
  purpose = APPLICATION_NAME,
  opts: { connectTimeoutMs?: number; statementTimeoutMs?: number } = {},
): Promise<Client> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const client = new Client({
    connectionString: url,
    application_name: purpose,
    // A client-side backstop past the server's statement_timeout, for a server that can no longer answer at all;
    // a query may override it (the index builds do).
    ...(opts.statementTimeoutMs ? { query_timeout: opts.statementTimeoutMs + 30_000 } : {}),
    // node-postgres bounds the whole startup with this, until ReadyForQuery (pg/lib/client.js _handleReadyForQuery).
    connectionTimeoutMillis: connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
  });
  // A dropped connection surfaces as the failing query's error; without a listener it would crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (e) {
    let where = "the database";
    try {
      where = describeUrl(new URL(url));
    } catch {
      /* an unparsable URL is refused before this by checkDatabaseUrl */
    }
    throw connectionFailure(e, where, connectTimeoutMs);
  }
  return client;
}
