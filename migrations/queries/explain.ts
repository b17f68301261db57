/**
 * The explain check: every catalog query under EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) with parameters picked from
 * the data, and a verdict per query. A query fails when none of the indexes meant to serve it is in the plan, or
 * when the plan sequentially scans a table of more than SEQ_SCAN_ROWS rows. A query with a rewrite (the `->>`
 * segment query) is judged on its plan too: served when an index condition applies its operator; otherwise reported
 * as needing the rewrite while the rewritten form is index-served, and a failure when that form is not.
 */
import type { ClientBase } from "pg";
import { table } from "../runner/report";
import { CONTEXT_SQL, KEY_QUERIES, type KeyQuery, type PickerArg } from "./catalog";

/** A sequential scan over a table bigger than this is a finding. */
export const SEQ_SCAN_ROWS = 10_000;

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Schema?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  Filter?: string;
  "Parallel Aware"?: boolean;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

export interface ExplainJson {
  Plan: PlanNode;
  "Planning Time": number;
  "Execution Time": number;
}

export interface SeqScan {
  table: string;
  /** pg_class.reltuples of the table: its size, not what the filter kept. */
  tableRows: number;
}

export interface PlanFacts {
  /** Indexes in the plan, in plan order, each once. */
  indexes: string[];
  /** Sequential scans over tables of more than SEQ_SCAN_ROWS rows. */
  bigSeqScans: SeqScan[];
  /** Every node type, top-down (for reports and tests). */
  nodeTypes: string[];
  /** Each index scan's condition: what the index itself answers. */
  indexConditions: { index: string; cond: string }[];
  /** Row filters applied after a scan: what no index answered. */
  filters: string[];
  executionMs: number;
  planningMs: number;
  sharedHit: number;
  sharedRead: number;
  /** Rows the top node returned. */
  rows: number;
}

export type Verdict = "index-served" | "not-index-served" | "needs-rewrite";

export interface QueryReport {
  name: string;
  description: string;
  table: string;
  sql: string;
  params: string[];
  servedBy: string[];
  verdict: Verdict;
  /** Why the verdict, one line each (empty when index-served). */
  problems: string[];
  facts: PlanFacts;
  plan: ExplainJson;
  /** For a query that needs a rewrite: the rewritten form's name and facts, side by side with this one. */
  rewrite?: { name: string; verdict: Verdict; facts: PlanFacts };
}

export interface CheckReport {
  ok: boolean;
  context: CheckContext;
  queries: QueryReport[];
  /** Queries that must be index-served and are not. */
  failures: string[];
}

/** Table sizes by schema-qualified name and by bare name (plans without VERBOSE carry no schema). */
export async function tableSizes(db: ClientBase): Promise<Map<string, number>> {
  const { rows } = await db.query<{ schema: string; name: string; rows: number }>(
    `SELECT n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::float8 AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
  );
  const sizes = new Map<string, number>();
  for (const r of rows) {
    sizes.set(`${r.schema}.${r.name}`, r.rows);
    sizes.set(r.name, Math.max(sizes.get(r.name) ?? 0, r.rows));
  }
  return sizes;
}

/** Facts a verdict needs, read from one EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) result. */
export function planFacts(explain: ExplainJson, sizes: Map<string, number>, catalogTable?: string): PlanFacts {
  const indexes: string[] = [];
  const bigSeqScans: SeqScan[] = [];
  const nodeTypes: string[] = [];
  const indexConditions: { index: string; cond: string }[] = [];
  const filters: string[] = [];
  const walk = (n: PlanNode) => {
    nodeTypes.push(n["Node Type"]);
    const idx = n["Index Name"];
    if (idx && !indexes.includes(idx)) indexes.push(idx);
    if (idx && n["Index Cond"]) indexConditions.push({ index: idx, cond: n["Index Cond"] });
    if (n.Filter) filters.push(n.Filter);
    if (n["Node Type"] === "Seq Scan" && n["Relation Name"]) {
      const rel = n["Relation Name"];
      const qualified = n.Schema ? `${n.Schema}.${rel}` : catalogTable?.endsWith(`.${rel}`) ? catalogTable : rel;
      const tableRows = sizes.get(qualified) ?? sizes.get(rel) ?? 0;
      if (tableRows > SEQ_SCAN_ROWS) bigSeqScans.push({ table: qualified, tableRows: Math.round(tableRows) });
    }
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(explain.Plan);
  return {
    indexes,
    bigSeqScans,
    nodeTypes,
    indexConditions,
    filters,
    executionMs: explain["Execution Time"],
    planningMs: explain["Planning Time"],
    sharedHit: explain.Plan["Shared Hit Blocks"] ?? 0,
    sharedRead: explain.Plan["Shared Read Blocks"] ?? 0,
    rows: explain.Plan["Actual Rows"] ?? 0,
  };
}

/**
 * The verdict from the plan's facts. For a query with a rewrite, `rewritten` is the rewritten entry's verdict: the
 * query is reported for the rewrite only while that form is index-served.
 */
export function verdictOf(q: KeyQuery, f: PlanFacts, rewritten?: Verdict): { verdict: Verdict; problems: string[] } {
  const problems: string[] = [];
  for (const s of f.bigSeqScans) problems.push(`sequential scan over ${s.table} (${s.tableRows} rows)`);
  const uses = f.indexes.length ? f.indexes.join(", ") : "no index";
  if (q.servedBy.length && !f.indexes.some((i) => q.servedBy.includes(i))) {
    problems.push(`not served by ${q.servedBy.join(" or ")} (plan uses ${uses})`);
  }
  if (q.rewrite) {
    const { operator, to, why } = q.rewrite;
    const served = f.indexConditions.filter((c) => c.cond.includes(operator));
    if (served.length) return { verdict: problems.length ? "not-index-served" : "index-served", problems };
    const filter = f.filters.find((x) => x.includes(operator));
    const seen = `no index in the plan serves \`${operator}\` (plan uses ${uses}${filter ? `; filter ${filter}` : ""})`;
    if (rewritten === "index-served") return { verdict: "needs-rewrite", problems: [`${seen}: ${why}`] };
    problems.push(`${seen}, and its rewrite ${to} is ${rewritten ?? "not checked"}`);
    return { verdict: "not-index-served", problems };
  }
  return { verdict: problems.length ? "not-index-served" : "index-served", problems };
}

/** Raw text for every column: timestamps keep their microseconds, uuids stay strings. */
export const rawText = { getTypeParser: () => (v: string) => v } as const;

async function single(db: ClientBase, sql: string, values: unknown[] = []): Promise<string[]> {
  const r = await db.query({ text: sql, values, rowMode: "array", types: rawText });
  const row = r.rows[0] as (string | null)[] | undefined;
  if (!row || row.some((v) => v === null)) {
    throw new Error(
      `no parameter row from: ${sql.replace(/\s+/g, " ").trim()} (is the database seeded? npm run infra -- seed-data)`,
    );
  }
  return row as string[];
}

export interface CheckContext {
  organization: string;
  organizationContacts: number;
  clock: string;
}

export async function checkContext(db: ClientBase): Promise<CheckContext> {
  const [organization] = await single(db, CONTEXT_SQL.organization);
  const [clock] = await single(db, CONTEXT_SQL.clock);
  const [contacts] = await single(db, "SELECT count(*)::text FROM crm.contacts WHERE organization_id = $1", [
    organization,
  ]);
  return { organization: organization!, clock: clock!, organizationContacts: Number(contacts) };
}

/** The query's parameters, picked from the data with its picker. */
export async function pickParams(db: ClientBase, q: KeyQuery, ctx: CheckContext): Promise<string[]> {
  const args = q.params.args.map((a: PickerArg) => (a === "organization" ? ctx.organization : ctx.clock));
  return single(db, q.params.sql, args);
}

export async function explainQuery(db: ClientBase, q: KeyQuery, params: string[]): Promise<ExplainJson> {
  const r = await db.query({
    text: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${q.sql}`,
    values: params,
    rowMode: "array",
    types: rawText,
  });
  const doc = JSON.parse((r.rows[0] as string[])[0]!) as ExplainJson[];
  return doc[0]!;
}

export interface CheckOptions {
  /** Only these catalog entries (default all). */
  only?: string[];
}

/** Runs the check over the catalog; never throws for a bad plan (that is `ok: false`), only for a broken database. */
export async function runCheck(db: ClientBase, opts: CheckOptions = {}): Promise<CheckReport> {
  const ctx = await checkContext(db);
  const sizes = await tableSizes(db);
  const selected = (q: KeyQuery) => !opts.only || opts.only.includes(q.name);
  // a selected query with a rewrite needs the rewritten form's verdict: measured, reported only if selected
  const targets = new Set(KEY_QUERIES.filter(selected).flatMap((q) => (q.rewrite ? [q.rewrite.to] : [])));
  const queries = KEY_QUERIES.filter((q) => selected(q) || targets.has(q.name));
  const reports = new Map<string, QueryReport>();
  for (const q of [...queries.filter((x) => !x.rewrite), ...queries.filter((x) => x.rewrite)]) {
    const params = await pickParams(db, q, ctx);
    // run once first: times are warm-cache times
    await db.query({ text: q.sql, values: params, types: rawText });
    const plan = await explainQuery(db, q, params);
    const facts = planFacts(plan, sizes, q.table);
    const target = q.rewrite ? reports.get(q.rewrite.to) : undefined;
    const { verdict, problems } = verdictOf(q, facts, target?.verdict);
    reports.set(q.name, {
      name: q.name,
      description: q.description,
      table: q.table,
      sql: q.sql,
      params,
      servedBy: q.servedBy,
      verdict,
      problems,
      facts,
      plan,
      ...(target ? { rewrite: { name: target.name, verdict: target.verdict, facts: target.facts } } : {}),
    });
  }
  const list = queries.filter(selected).map((q) => reports.get(q.name)!);
  const failures = list.filter((r) => r.verdict === "not-index-served").map((r) => r.name);
  return { ok: failures.length === 0, context: ctx, queries: list, failures };
}

/** A measurement with 2-3 significant digits ("-" when not a number); the check's and the benchmark's tables. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return "-";
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** One line per query plus the rewrite comparison and the failures. */
export function renderCheck(r: CheckReport): string {
  const rows = r.queries.map((q) => [
    q.name,
    q.verdict === "index-served" ? "ok" : q.verdict === "needs-rewrite" ? "REWRITE" : "FAIL",
    q.facts.indexes.join(", ") || "-",
    q.facts.bigSeqScans.map((s) => `${s.table} (${s.tableRows})`).join(", ") || "-",
    fmt(q.facts.executionMs),
    `${q.facts.sharedHit}/${q.facts.sharedRead}`,
    String(q.facts.rows),
  ]);
  const out = [
    `key queries for the largest organization (${r.context.organizationContacts} contacts), data clock ${r.context.clock}`,
    table(["QUERY", "VERDICT", "INDEXES USED", "SEQ SCANS > 10k ROWS", "EXEC MS", "SHARED HIT/READ", "ROWS"], rows),
  ];
  for (const q of r.queries) {
    if (q.verdict !== "needs-rewrite" || !q.rewrite) continue;
    const a = q.facts;
    const b = q.rewrite.facts;
    out.push("");
    out.push(`${q.name} needs the containment rewrite: ${q.problems.join("; ")}`);
    out.push(
      table(
        ["", `AS WRITTEN (${q.name})`, `REWRITTEN (${q.rewrite.name})`],
        [
          ["plan", a.nodeTypes.join(" > "), b.nodeTypes.join(" > ")],
          ["indexes", a.indexes.join(", ") || "-", b.indexes.join(", ") || "-"],
          [
            "seq scans > 10k",
            a.bigSeqScans.map((s) => s.table).join(", ") || "-",
            b.bigSeqScans.map((s) => s.table).join(", ") || "-",
          ],
          ["execution ms", fmt(a.executionMs), fmt(b.executionMs)],
          ["shared hit/read", `${a.sharedHit}/${a.sharedRead}`, `${b.sharedHit}/${b.sharedRead}`],
          ["rows", String(a.rows), String(b.rows)],
        ],
      ),
    );
  }
  out.push("");
  for (const q of r.queries.filter((x) => x.verdict === "not-index-served")) {
    out.push(`FAIL ${q.name}: ${q.problems.join("; ")}`);
  }
  out.push(
    r.ok
      ? `every key query that must be index-served is (${r.queries.filter((q) => q.verdict === "index-served").length} of ${r.queries.length}; ${r.queries.filter((q) => q.verdict === "needs-rewrite").length} reported for rewrite)`
      : `${r.failures.length} key quer${r.failures.length > 1 ? "ies are" : "y is"} not index-served: ${r.failures.join(", ")}`,
  );
  return `${out.join("\n")}\n`;
}
