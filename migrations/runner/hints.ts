/**
 * Failures that PostgreSQL reports tersely, made into one line that says the cause and what to check: a lost
 * connection, the runner's statement timeout, a read-only database, a UNIQUE build over duplicate keys.
 */
import type { Client, DatabaseError } from "pg";
import { MigrationError, RunnerError } from "./errors";
import { fmtMs } from "./report";

/** A statement's own error text, with the detail PostgreSQL gives for a UNIQUE build over duplicates. */
export function statementErrorText(e: DatabaseError): string {
  const hint = e.hint ? ` (hint: ${e.hint})` : "";
  // 23505 from CREATE UNIQUE INDEX is "could not create unique index"; its detail names one duplicated key.
  const dup =
    e.code === "23505" && /^could not create unique index/.test(e.message)
      ? /^Key \((.*)\)=\((.*)\) is duplicated/.exec(e.detail ?? "")
      : null;
  if (dup) {
    return `${e.message}: the table holds duplicate keys, the cause of the failure: ${e.detail}${e.detail?.endsWith(".") ? "" : "."} (allowed: remove or merge the duplicates, found with SELECT ${dup[1]}, count(*) ... GROUP BY ${dup[1]} HAVING count(*) > 1, then rerun)`;
  }
  return `${e.message}${hint}`;
}

/** The session is gone or stuck (nothing more can be asked on it). */
export function connectionLost(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    /Connection terminated|ECONNRESET|ETIMEDOUT|EPIPE|Query read timeout/.test(
      `${err.message ?? ""} ${err.code ?? ""}`,
    ) || err.code === "57P01"
  );
}

/** A connection lost or the statement timeout run out, naming the host; undefined for other errors. */
export function sessionFailureHint(e: unknown, where: string, statementTimeoutMs: number): string | undefined {
  const err = e as { code?: string; message?: string };
  const text = `${err.message ?? ""} ${err.code ?? ""}`;
  if (err.code === "57014" && /statement timeout/.test(text)) {
    return `the runner's statement timeout (${fmtMs(statementTimeoutMs)}) ran out on ${where} (check: what else runs there now; raise --statement-timeout, or SET statement_timeout in the file for a statement known to be long)`;
  }
  if (connectionLost(e)) {
    return `the connection to ${where} was lost (check: the network, and whether the endpoint was suspended or restarted); a rerun continues where this one stopped`;
  }
  return undefined;
}

/** Why a database refuses writes (25006): a hot standby, or default_transaction_read_only. */
export async function readOnlyHint(client: Client, where: string): Promise<string> {
  const { rows } = await client
    .query<{ standby: boolean; dtro: string }>(
      "SELECT pg_is_in_recovery() AS standby, current_setting('default_transaction_read_only') AS dtro",
    )
    .catch(() => ({ rows: [] as { standby: boolean; dtro: string }[] }));
  const r = rows[0];
  if (r?.standby) {
    return `${where} is a hot standby (pg_is_in_recovery() is true), a read replica: migrations need the primary (check: the URL points at the read_write endpoint's direct host, not a read_only one)`;
  }
  if (r?.dtro === "on") {
    return `default_transaction_read_only is on for this database or role on ${where} (check: SHOW default_transaction_read_only; ALTER DATABASE ... or ALTER ROLE ... SET default_transaction_read_only = off, if writes are meant to be allowed)`;
  }
  return `${where} is read-only (check: whether it is a replica, and default_transaction_read_only)`;
}

/** The failure with its hint appended, if there is one. */
export async function explainFailure(
  e: unknown,
  client: Client,
  where: string,
  statementTimeoutMs: number,
): Promise<unknown> {
  const code = (e as { code?: string }).code;
  const hint =
    sessionFailureHint(e, where, statementTimeoutMs) ??
    (code === "25006" ? await readOnlyHint(client, where) : undefined);
  if (!hint) return e;
  if (e instanceof MigrationError) return new MigrationError(`${e.reason}: ${hint}`, e.file, e.line, e.code);
  return Object.assign(new RunnerError(`${(e as Error).message}: ${hint}`), { code });
}
