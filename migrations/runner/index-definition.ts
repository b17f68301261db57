/**
 * Whether an index that already exists under a migration's index name is the index the migration would build.
 * PostgreSQL itself says what the statement builds: the same CREATE INDEX (without CONCURRENTLY) on an empty
 * LIKE-copy of the table in a temporary schema, inside a transaction that is rolled back, read back with
 * pg_get_indexdef and compared with the existing index's. Comparing parse trees instead would call
 * `(a->>'x')` and `((a ->> 'x'::text))` different; PostgreSQL's own deparse makes both one text.
 */
import type { Client } from "pg";
import { parseSync } from "libpg-query";
import type { Statement } from "./files";

/** `CREATE [UNIQUE] INDEX` plus everything from ` USING ` on: the definition without its name and table. */
export function definitionKey(indexdef: string): string {
  const unique = /^CREATE UNIQUE INDEX /.test(indexdef) ? "UNIQUE " : "";
  const using = indexdef.indexOf(" USING ");
  return `CREATE ${unique}INDEX ON <table>${using >= 0 ? indexdef.slice(using) : indexdef}`;
}

/** The statement's SQL built on `target` instead of its table, and without CONCURRENTLY. */
function retarget(stmt: Statement, target: string): string {
  const tree = parseSync(stmt.sql) as { stmts: { stmt: { IndexStmt: { relation: { location: number } } } }[] };
  const bytes = Buffer.from(stmt.sql, "utf8");
  const at = tree.stmts[0]!.stmt.IndexStmt.relation.location;
  const rest = bytes.subarray(at).toString("utf8");
  // The table reference as written: an identifier or a quoted one, optionally schema-qualified.
  const ident = `(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)`;
  const ref = new RegExp(`^${ident}(?:\\s*\\.\\s*${ident})?`).exec(rest)![0];
  const head = bytes
    .subarray(0, at)
    .toString("utf8")
    .replace(/^(CREATE\s+(?:UNIQUE\s+)?INDEX\s+)CONCURRENTLY\s+/i, "$1");
  return `${head}${target}${rest.slice(ref.length)}`;
}

export interface DefinitionCheck {
  same: boolean;
  existing: string;
  wanted: string;
}

/** Compares the existing index `qualified` with what `stmt` builds. Leaves nothing behind (rolled back). */
export async function compareDefinition(client: Client, stmt: Statement, qualified: string): Promise<DefinitionCheck> {
  const t = stmt.index!;
  await client.query("BEGIN");
  try {
    await client.query(`CREATE TEMP TABLE mauntic_index_probe (LIKE ${t.table}) ON COMMIT DROP`);
    await client.query(retarget(stmt, "pg_temp.mauntic_index_probe"));
    const { rows } = await client.query<{ existing: string; wanted: string; table: string }>(
      `SELECT pg_get_indexdef(to_regclass($1)) AS existing, to_regclass($2)::text AS table,
              (SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
                WHERE i.indrelid = 'pg_temp.mauntic_index_probe'::regclass) AS wanted`,
      [qualified, t.table],
    );
    const { existing, wanted, table } = rows[0]!;
    return {
      same: definitionKey(existing) === definitionKey(wanted),
      existing,
      wanted: wanted.replace(/\bpg_temp(_\d+)?\.mauntic_index_probe\b/, table),
    };
  } finally {
    await client.query("ROLLBACK");
  }
}
