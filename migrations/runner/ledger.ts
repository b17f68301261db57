/**
 * The ledger: one row per applied migration, in the runner's own schema (never one of the platform's, so no
 * worker grant can reach it).
 */
import * as os from "node:os";
import type { Client } from "pg";
import type { MigrationFile } from "./files";
import { MigrationError } from "./errors";

export const LEDGER_SCHEMA = "mauntic_migrations";
export const LEDGER_TABLE = `${LEDGER_SCHEMA}.ledger`;

export interface LedgerRow {
  version: number;
  name: string;
  /** sha256 of the file's bytes when it was applied. */
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  /** `<database role> via <os user>@<host>`. */
  appliedBy: string;
}

const SELECT_ROWS = `SELECT version, name, checksum, applied_at, duration_ms, applied_by FROM ${LEDGER_TABLE} ORDER BY version`;

/** Creates the ledger if needed and reads it: one round trip (a multi-statement simple query). */
export const ENSURE_AND_READ_SQL = [
  `CREATE SCHEMA IF NOT EXISTS ${LEDGER_SCHEMA}`,
  `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    applied_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL CHECK (duration_ms >= 0),
    applied_by text NOT NULL
  )`,
  SELECT_ROWS,
].join(";\n");

interface RawRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
  applied_by: string;
}

function toRow(r: RawRow): LedgerRow {
  return {
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    appliedAt: r.applied_at,
    durationMs: r.duration_ms,
    appliedBy: r.applied_by,
  };
}

export async function ensureAndReadLedger(client: Client): Promise<LedgerRow[]> {
  const results = (await client.query(ENSURE_AND_READ_SQL)) as unknown as { rows: RawRow[] }[];
  return results[results.length - 1]!.rows.map(toRow);
}

/** Read-only (--status, --dry-run): no ledger yet means nothing applied. */
export async function readLedger(client: Client): Promise<LedgerRow[]> {
  const { rows } = await client.query<{ present: boolean }>(
    `SELECT to_regclass('${LEDGER_TABLE}') IS NOT NULL AS present`,
  );
  if (!rows[0]?.present) return [];
  return (await client.query<RawRow>(SELECT_ROWS)).rows.map(toRow);
}

export function runnerIdentity(): string {
  let user = "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry in some containers */
  }
  return `${user}@${os.hostname()}`;
}

/** The ledger insert of one applied migration (a transactional file's inside its own transaction). */
export function recordAppliedQuery(m: MigrationFile, durationMs: number): { text: string; values: unknown[] } {
  return {
    text: `INSERT INTO ${LEDGER_TABLE} (version, name, checksum, duration_ms, applied_by)
           VALUES ($1, $2, $3, $4, session_user || ' via ' || $5)`,
    values: [m.version, m.name, m.checksum, Math.round(durationMs), runnerIdentity()],
  };
}

export interface LedgerCheck {
  pending: MigrationFile[];
  /** Ledger rows whose file is gone (a branch behind the database): reported, not fatal. */
  missingFiles: LedgerRow[];
}

/**
 * Compares files with the ledger. An applied file whose bytes changed is refused, naming it: the database has
 * the old statement, and editing history hides that.
 */
export function checkLedger(files: MigrationFile[], rows: LedgerRow[]): LedgerCheck {
  const applied = new Map(rows.map((r) => [r.version, r]));
  for (const f of files) {
    const row = applied.get(f.version);
    if (row && row.checksum !== f.checksum && row.checksum === f.checksumLf) {
      throw new MigrationError(
        `differs from what was applied (${row.appliedAt.toISOString()}) only in its line endings: this checkout has CRLF where the file has LF (allowed: check it out with LF, which .gitattributes pins: git add --renormalize . && git checkout -- migrations, or a fresh clone)`,
        f.displayPath,
      );
    }
    if (row && row.checksum !== f.checksum) {
      throw new MigrationError(
        `changed after it was applied (${row.appliedAt.toISOString()}, checksum ${row.checksum.slice(0, 12)}, now ${f.checksum.slice(0, 12)}): applied migrations are never edited (allowed: restore the file and add a new NNNN_<name>.sql)`,
        f.displayPath,
      );
    }
  }
  const versions = new Set(files.map((f) => f.version));
  return {
    pending: files.filter((f) => !applied.has(f.version)),
    missingFiles: rows.filter((r) => !versions.has(r.version)),
  };
}
