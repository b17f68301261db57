/**
 * The runner's sessions: URL checks before any connection, and the session settings every migration relies on.
 */
import { Client } from "pg";
import { isPoolerHost } from "../../infra/neon/hosts";
import { InputError } from "./errors";

export const APPLICATION_NAME = "mauntic-migrate";

export interface SessionSettings {
  /** Bounds every lock wait (writers queue behind a waiting DDL lock for at most this long). */
  lockTimeoutMs: number;
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
    `SET lock_timeout = '${Math.round(s.lockTimeoutMs)}ms'`,
    // An index build may take hours on a big table: nothing may cut it.
    "SET statement_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    `SET client_connection_check_interval = '${Math.round(s.connectionCheckMs)}ms'`,
  ].join("; ");
}

export async function openClient(url: string, purpose = APPLICATION_NAME): Promise<Client> {
  const client = new Client({ connectionString: url, application_name: purpose });
  // A dropped connection surfaces as the failing query's error; without a listener it would crash the process.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}
