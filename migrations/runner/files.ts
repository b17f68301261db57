/**
 * Migration files: discovery (`NNNN_<name>.sql` in the migrations folder), checksums, and statements split by
 * PostgreSQL's own parser (libpg-query), each with its line and kind. Adding a migration is adding a file.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadModule, parseSync } from "libpg-query";
import { ALLOW_MARKER, allowBlockingReason, BlockingDdl } from "./blocking-ddl";
import { MIGRATIONS_DIR } from "./checksum";
import { MigrationError } from "./errors";

export { MIGRATIONS_DIR };

export const FILE_PATTERN = /^(\d{4})_([a-z0-9]+(?:_[a-z0-9]+)*)\.sql$/;

export type StatementKind =
  /** CREATE INDEX CONCURRENTLY: built by the runner (INVALID heal, lock pre-check, progress, validity check). */
  | "create-index-concurrently"
  /** DROP INDEX / REINDEX CONCURRENTLY: outside any transaction, lock retries. */
  | "other-concurrently"
  /** SET / RESET: allowed beside CONCURRENTLY statements (e.g. maintenance_work_mem for a big build). */
  | "session-setting"
  | "transactional";

export interface IndexTarget {
  /** Index name as written (the runner requires one). */
  name: string;
  /** The table as written, schema-qualified if the file qualifies it (quoted for to_regclass). */
  table: string;
}

export interface Statement {
  /** Exact text of the statement as written in the file. */
  sql: string;
  /** 1-based line of the statement's first token. */
  line: number;
  kind: StatementKind;
  index?: IndexTarget;
  /** A statement that blocks writers (blocking-ddl.ts), applied because the file says why it is safe. */
  blocking?: { what: string; reason: string };
}

export interface MigrationFile {
  version: number;
  name: string;
  /** File name, e.g. `0001_contact_activity_org_contact.sql`. */
  file: string;
  /** Path relative to the working directory, for messages. */
  displayPath: string;
  checksum: string;
  /** sha256 of the bytes with CRLF made LF: tells a CRLF checkout from an edit. */
  checksumLf: string;
  statements: Statement[];
  /** Statements run one by one outside a transaction (the file has a CONCURRENTLY statement). */
  concurrent: boolean;
}

let loaded: Promise<void> | undefined;
/** libpg-query is WASM: load it once before the synchronous parser is used. */
export function loadParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** 1-based line of a character offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Offset of the first token at or after `from`: skips whitespace and comments. Written by hand because the WASM
 * build of libpg-query exposes no scanner, and statement locations include the comments before a statement.
 */
export function firstTokenOffset(sql: string, from: number): number {
  let i = from;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") i++;
    else if (sql.startsWith("--", i)) {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (sql.startsWith("/*", i)) {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith("/*", i)) (depth++, (i += 2));
        else if (sql.startsWith("*/", i)) (depth--, (i += 2));
        else i++;
      }
    } else break;
  }
  return i;
}

type Node = Record<string, unknown>;

function quoteIdent(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

function classify(node: Node): { kind: StatementKind; index?: IndexTarget; createIndex?: Node } {
  const [type] = Object.keys(node);
  const body = (type ? node[type] : {}) as Node;
  switch (type) {
    case "IndexStmt": {
      const rel = body.relation as { schemaname?: string; relname: string };
      const table = rel.schemaname
        ? `${quoteIdent(rel.schemaname)}.${quoteIdent(rel.relname)}`
        : quoteIdent(rel.relname);
      const index = typeof body.idxname === "string" ? { name: body.idxname, table } : undefined;
      return { kind: body.concurrent ? "create-index-concurrently" : "transactional", index, createIndex: body };
    }
    case "DropStmt":
      return { kind: body.concurrent ? "other-concurrently" : "transactional" };
    case "ReindexStmt": {
      const params = (body.params ?? []) as { DefElem?: { defname?: string } }[];
      const concurrently = params.some((p) => p.DefElem?.defname === "concurrently");
      return { kind: concurrently ? "other-concurrently" : "transactional" };
    }
    case "VariableSetStmt":
      return { kind: "session-setting" };
    default:
      return { kind: "transactional" };
  }
}

/**
 * Splits and checks one file's SQL. Throws MigrationError (file:line) on a syntax error or a broken contract:
 * a CREATE INDEX CONCURRENTLY without an explicit name or without IF NOT EXISTS (a rerun after a crash must be a
 * no-op or a heal), or a file that mixes CONCURRENTLY statements with transactional ones (it could not be atomic).
 */
export function splitStatements(sql: string, displayPath: string): Statement[] {
  let parsed: { stmts?: { stmt: Node; stmt_location?: number; stmt_len?: number }[] };
  try {
    parsed = parseSync(sql);
  } catch (e) {
    const details = (e as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const line = details?.cursorPosition !== undefined ? lineAt(sql, details.cursorPosition) : 1;
    throw new MigrationError(`${(e as Error).message}`, displayPath, line);
  }
  // Parser locations are byte offsets into the UTF-8 text; comments may hold non-ASCII characters.
  const bytes = Buffer.from(sql, "utf8");
  const out: Statement[] = [];
  const blockingDdl = new BlockingDdl();
  for (const s of parsed.stmts ?? []) {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len ? start + s.stmt_len : bytes.length;
    const prefix = bytes.subarray(0, start).toString("utf8");
    const raw = bytes.subarray(start, end).toString("utf8");
    const skip = firstTokenOffset(raw, 0);
    const line = lineAt(sql, prefix.length + skip);
    const { kind, index, createIndex } = classify(s.stmt);
    if (createIndex && kind === "create-index-concurrently") {
      if (!index) {
        throw new MigrationError(
          "CREATE INDEX CONCURRENTLY has no index name (allowed: CREATE INDEX CONCURRENTLY IF NOT EXISTS <name> ON ...)",
          displayPath,
          line,
        );
      }
      if (!createIndex.if_not_exists) {
        throw new MigrationError(
          `CREATE INDEX CONCURRENTLY ${index.name} lacks IF NOT EXISTS: a rerun after a crash would fail (allowed: CREATE INDEX CONCURRENTLY IF NOT EXISTS ${index.name} ...)`,
          displayPath,
          line,
        );
      }
    }
    const blocking = blockingDdl.check(s.stmt);
    const reason = blocking ? allowBlockingReason(raw.slice(0, skip)) : undefined;
    if (blocking && !reason) {
      throw new MigrationError(
        `${blocking}; refused before anything runs (allowed: a form that does not block writers, or a comment line "-- ${ALLOW_MARKER} <why it is safe here>" right before the statement${reason === "" ? ": the marker is there but gives no reason" : ""})`,
        displayPath,
        line,
      );
    }
    out.push({
      sql: raw.slice(skip).replace(/;\s*$/, "").trimEnd(),
      line,
      kind,
      ...(index ? { index } : {}),
      ...(blocking ? { blocking: { what: blocking, reason: reason! } } : {}),
    });
  }
  const concurrentAt = out.find((s) => s.kind === "create-index-concurrently" || s.kind === "other-concurrently");
  const transactionalAt = out.find((s) => s.kind === "transactional");
  if (concurrentAt && transactionalAt) {
    throw new MigrationError(
      `a CONCURRENTLY statement (line ${concurrentAt.line}) cannot share a file with transactional statements: it runs outside any transaction, so the file could not be applied atomically (allowed: one CONCURRENTLY index per file, plus SET/RESET)`,
      displayPath,
      transactionalAt.line,
    );
  }
  return out;
}

/** Reads and checks every `NNNN_<name>.sql` in `dir`, ordered by version. Other `.sql` files are refused. */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  await loadParser();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new MigrationError(`cannot read the migrations folder: ${(e as Error).message}`, dir);
  }
  const byVersion = new Map<number, string>();
  const files: MigrationFile[] = [];
  for (const file of names.filter((n) => n.endsWith(".sql")).sort()) {
    const full = path.join(dir, file);
    const displayPath = path.relative(process.cwd(), full) || full;
    const m = FILE_PATTERN.exec(file);
    if (!m) {
      throw new MigrationError(
        `'${file}' is not a migration file name (allowed: NNNN_<name>.sql, lowercase words joined by _)`,
        displayPath,
      );
    }
    const version = Number(m[1]);
    const clash = byVersion.get(version);
    if (clash) {
      throw new MigrationError(`version ${m[1]} is also used by ${clash} (allowed: each version once)`, displayPath);
    }
    byVersion.set(version, file);
    const buf = fs.readFileSync(full);
    const statements = splitStatements(buf.toString("utf8"), displayPath);
    if (statements.length === 0) throw new MigrationError("the file has no statements", displayPath);
    files.push({
      version,
      name: m[2]!,
      file,
      displayPath,
      checksum: sha256(buf),
      checksumLf: sha256(buf.toString("utf8").replace(/\r\n/g, "\n")),
      statements,
      concurrent: statements.some((s) => s.kind === "create-index-concurrently" || s.kind === "other-concurrently"),
    });
  }
  return files;
}
