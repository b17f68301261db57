/**
 * Migrations that wait: on a fresh stack the database is empty until the application's own schema migrations create
 * its tables (after its workers are deployed), so an index migration whose table is not there yet stays pending,
 * named with the table it waits for, and the run goes on. The post-deploy step runs on every `pulumi up`, so the
 * first deploy after the application created its tables applies it. `migrate --strict` makes any wait a failure
 * (CI wants to know).
 */
import type { Client } from "pg";
import { RunnerError } from "./errors";
import type { MigrationFile } from "./files";

/** PostgreSQL's undefined_table and invalid_schema_name: a relation or schema the application has not made yet. */
const MISSING_CODES = new Set(["42P01", "3F000"]);

/** `"crm"."contacts"` -> `crm.contacts` for messages: quotes kept only where an identifier needs them. */
const plainName = (qualified: string) => qualified.replace(/"([a-z_][a-z0-9_$]*)"/g, "$1");

/**
 * The tables of pending index migrations that do not exist yet, by migration version: one query, and none at all
 * when nothing is pending (a no-op run stays at three queries). `to_regclass` answers NULL for a missing table or
 * schema instead of raising.
 */
export async function missingTables(client: Client, pending: MigrationFile[]): Promise<Map<number, string[]>> {
  const byVersion = new Map<number, string[]>();
  const targets = pending.flatMap((m) => m.statements.flatMap((s) => (s.index ? [{ m, table: s.index.table }] : [])));
  if (!targets.length) return byVersion;
  const tables = [...new Set(targets.map((t) => t.table))];
  const { rows } = await client.query<{ t: string }>(
    "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL",
    [tables],
  );
  const missing = new Set(rows.map((r) => r.t));
  for (const { m, table } of targets) {
    if (!missing.has(table)) continue;
    const list = byVersion.get(m.version) ?? [];
    const shown = plainName(table);
    if (!list.includes(shown)) list.push(shown);
    byVersion.set(m.version, list);
  }
  return byVersion;
}

/**
 * The relation or schema a failed statement found missing, if that is why it failed (a file whose statements the
 * runner does not pre-check, e.g. a transactional one): the migration waits instead of failing the run.
 */
export function missingRelation(e: unknown): string | undefined {
  for (let err = e as { code?: string; message?: string; cause?: unknown } | undefined; err; err = err.cause as never) {
    if (err.code && MISSING_CODES.has(err.code)) {
      return /(?:relation|schema) "([^"]+)" does not exist/.exec(err.message ?? "")?.[1] ?? err.message;
    }
  }
  return undefined;
}

/** What one run left waiting: migrations with the tables they wait for, schemas whose grants wait. */
export interface Waiting {
  migrations: { version: number; file: string; waitingFor: string[] }[];
  grantSchemas: string[];
}

export function waitingOf(result: {
  migrations: { version: number; file: string; status: string; waitingFor?: string[] }[];
  grants: { missingSchemas: string[] } | { skipped: string };
}): Waiting {
  return {
    migrations: result.migrations
      .filter((m) => m.status === "waiting")
      .map((m) => ({ version: m.version, file: m.file, waitingFor: m.waitingFor ?? [] })),
    grantSchemas: "missingSchemas" in result.grants ? result.grants.missingSchemas : [],
  };
}

/** `migrate --strict`: exit 1 while anything waits, naming every wait in one line. */
export class StillWaiting extends RunnerError {
  override name = "StillWaiting";
  constructor(readonly waiting: Waiting) {
    const parts = [
      ...waiting.migrations.map((m) => `${m.file} waits for ${m.waitingFor.join(", ")}`),
      ...(waiting.grantSchemas.length ? [`grants wait for schema ${waiting.grantSchemas.join(", ")}`] : []),
    ];
    super(
      `--strict: ${parts.join("; ")} (allowed: let the application create its tables, then rerun; or drop --strict to let them wait)`,
    );
  }
}

export function anyWaiting(w: Waiting): boolean {
  return w.migrations.length > 0 || w.grantSchemas.length > 0;
}
