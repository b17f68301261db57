/**
 * The index benchmark (`npm run infra -- bench [--scale <s>]`) on embedded PostgreSQL 17:
 *  1. per key query, p50/p95 over repeated runs with (a) the fixture's indexes, (b) plus the notes' recommended
 *     indexes exactly as written, (c) plus this project's migrations, and the ratios (a)/(c), (b)/(c);
 *  2. write availability: writers on crm.contacts and analytics.contact_activity while the indexes build, once with
 *     the notes' plain CREATE INDEX (phase b) and once through the migration runner (phase c);
 *  3. the size of every index;
 *  4. the measurements behind the project's index choices (candidates per query, buffers for the largest org).
 * Nothing here asserts: it prints and writes JSON (bench/results/, git-ignored).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { loadFixture } from "../migrations/fixture/load";
import { KEY_QUERIES, keyQuery, NOTES_RECOMMENDED_INDEXES, type KeyQuery } from "../migrations/queries/catalog";
import {
  checkContext,
  explainQuery,
  fmt,
  pickParams,
  planFacts,
  rawText,
  tableSizes,
  verdictOf,
  type CheckContext,
  type PlanFacts,
  type Verdict,
} from "../migrations/queries/explain";
import { seedData, SEEDED_TABLES, seedStepLine, type SeedSizes } from "../migrations/queries/seed";
import { openClient } from "../migrations/runner/connect";
import { lineReporter } from "../migrations/runner/progress";
import { table } from "../migrations/runner/report";
import { readMigrations } from "../migrations/runner/files";
import { migrate } from "../migrations/runner/runner";
import { startPostgres } from "../migrations/embedded";
import { BENCH_ORG, percentile, startWriters, type WriteStats } from "./writers";

export const RESULTS_DIR = path.resolve(__dirname, "results");

export interface BenchOptions {
  scale: number;
  /** Timed runs per query and configuration, at most (after 2 warm-up runs). */
  maxRuns: number;
  /** Stop timing a query after this long once it has 5 runs. */
  budgetMs: number;
  /** Measure the candidate indexes behind the project's choices. */
  candidates: boolean;
  /** Each writer inserts once per this many ms. */
  writerIntervalMs: number;
  log: (line: string) => void;
}

export type ConfigName = "fixture" | "notes" | "project";

export interface QueryTiming {
  name: string;
  runs: number;
  p50Ms: number;
  p95Ms: number;
  /** Rows the query returned; `value` is its single value when it returns one (the daily send count). */
  rows: number;
  value?: number;
  verdict: Verdict;
  indexes: string[];
  bigSeqScans: string[];
  sharedHit: number;
  sharedRead: number;
}

export interface PhaseWrites {
  /** How the indexes were built. */
  method: string;
  builds: { index: string; ms: number }[];
  writers: WriteStats[];
  maxStallMs: number;
  p99Ms: number;
}

export interface IndexSize {
  table: string;
  index: string;
  method: string;
  bytes: number;
  source: "fixture" | "notes" | "project";
}

export interface CandidateResult {
  group: string;
  query: string;
  candidate: string;
  /** The candidate's own index (none for a baseline). */
  index?: string;
  /** The candidate's index is one the project's migrations create: what the project chose. */
  chosen: boolean;
  p50Ms: number;
  buffers: number;
  indexes: string[];
  /** Size of the candidate's own index (0 for the baseline). */
  bytes: number;
  buildMs: number;
  /** Baseline buffers / this candidate's buffers. */
  bufferRatio: number;
  /** The same measurement after a burst of concurrent inserts. */
  afterWrites: { p50Ms: number; buffers: number };
}

export interface Target {
  target: string;
  measured: string;
  ok: boolean | null;
}

export interface BenchResult {
  startedAt: string;
  scale: number;
  sizes: SeedSizes;
  machine: {
    cpus: number;
    node: string;
    postgres: string;
    settings: Record<string, string>;
    /** 1-minute load average at the start and the end: timings on a shared machine are only as quiet as this. */
    loadavg: { start: number; end: number };
  };
  seedMs: number;
  context: CheckContext;
  params: Record<string, string[]>;
  configs: Record<ConfigName, QueryTiming[]>;
  table: {
    query: string;
    a: { p50Ms: number; p95Ms: number };
    b: { p50Ms: number; p95Ms: number };
    c: { p50Ms: number; p95Ms: number };
    ratioAC: number;
    ratioBC: number;
  }[];
  writeAvailability: { plain: PhaseWrites; runner: PhaseWrites; stallRatio: number; p99Ratio: number };
  indexSizes: IndexSize[];
  candidates: CandidateResult[];
  targets: Target[];
  totalMs: number;
}

/** p50/p95 of one query: warm-up, then timed runs until maxRuns, or the budget once 5 runs are in. */
async function timeQuery(db: Client, q: KeyQuery, params: string[], o: BenchOptions) {
  for (let i = 0; i < 2; i++) await db.query({ text: q.sql, values: params, types: rawText });
  const samples: number[] = [];
  let last: { rows: unknown[]; fields: unknown[] } | undefined;
  const start = performance.now();
  while (samples.length < o.maxRuns && (samples.length < 5 || performance.now() - start < o.budgetMs)) {
    const t = performance.now();
    last = await db.query({ text: q.sql, values: params, types: rawText, rowMode: "array" });
    samples.push(performance.now() - t);
  }
  samples.sort((x, y) => x - y);
  const single =
    last && last.rows.length === 1 && last.fields.length === 1 ? Number((last.rows[0] as string[])[0]) : NaN;
  return {
    runs: samples.length,
    p50Ms: percentile(samples, 50),
    p95Ms: percentile(samples, 95),
    rows: last?.rows.length ?? 0,
    ...(Number.isFinite(single) ? { value: single } : {}),
  };
}

async function measureConfig(
  db: Client,
  params: Record<string, string[]>,
  o: BenchOptions,
  label: string,
): Promise<QueryTiming[]> {
  const sizes = await tableSizes(db);
  const measured = new Map<string, { t: Awaited<ReturnType<typeof timeQuery>>; facts: PlanFacts }>();
  for (const q of KEY_QUERIES) {
    const t = await timeQuery(db, q, params[q.name]!, o);
    measured.set(q.name, { t, facts: planFacts(await explainQuery(db, q, params[q.name]!), sizes, q.table) });
    o.log(`${label}: ${q.name} p50 ${fmt(t.p50Ms)} ms over ${t.runs} runs`);
  }
  // verdicts once every plan is in: a rewrite's verdict depends on the rewritten form's
  const verdicts = new Map<string, Verdict>();
  for (const q of [...KEY_QUERIES.filter((x) => !x.rewrite), ...KEY_QUERIES.filter((x) => x.rewrite)]) {
    const rewritten = q.rewrite ? verdicts.get(q.rewrite.to) : undefined;
    verdicts.set(q.name, verdictOf(q, measured.get(q.name)!.facts, rewritten).verdict);
  }
  return KEY_QUERIES.map((q) => {
    const { t, facts } = measured.get(q.name)!;
    return {
      name: q.name,
      ...t,
      verdict: verdicts.get(q.name)!,
      indexes: facts.indexes,
      bigSeqScans: facts.bigSeqScans.map((s) => s.table),
      sharedHit: facts.sharedHit,
      sharedRead: facts.sharedRead,
    };
  });
}

/** Delete the writers' rows and bring statistics and the visibility map back to the seeded state. */
async function cleanWriterRows(db: Client) {
  await db.query(`DELETE FROM crm.contacts WHERE organization_id = '${BENCH_ORG}'`);
  await db.query(`DELETE FROM analytics.contact_activity WHERE organization_id = '${BENCH_ORG}'`);
  await db.query("VACUUM (ANALYZE) crm.contacts, analytics.contact_activity");
}

function summarizeWrites(method: string, builds: { index: string; ms: number }[], writers: WriteStats[]): PhaseWrites {
  return {
    method,
    builds,
    writers,
    maxStallMs: Math.max(...writers.map((w) => w.maxMs)),
    p99Ms: Math.max(...writers.map((w) => w.p99Ms)),
  };
}

interface CandidateIndex {
  key: string;
  label: string;
  /** Index name; built by the bench unless it is one the migrations already created. */
  name: string;
  schema: string;
  create?: string;
}

interface CandidateGroup {
  group: string;
  indexes: CandidateIndex[];
  items: { query: string; keep: string[]; candidate: string }[];
}

/** The alternatives measured for the queries the notes leave unserved or poorly served. */
export const CANDIDATE_GROUPS: CandidateGroup[] = [
  {
    group: "hourly-aggregation: BRIN vs B-tree on created_at",
    indexes: [
      {
        key: "brin16",
        label: "brin (created_at) pages_per_range 16",
        name: "bench_activity_brin16",
        schema: "analytics",
        create:
          "CREATE INDEX bench_activity_brin16 ON analytics.contact_activity USING brin (created_at) WITH (pages_per_range = 16)",
      },
      {
        key: "brin32",
        label: "brin (created_at) pages_per_range 32",
        name: "bench_activity_brin32",
        schema: "analytics",
        create:
          "CREATE INDEX bench_activity_brin32 ON analytics.contact_activity USING brin (created_at) WITH (pages_per_range = 32)",
      },
      {
        key: "brin128",
        label: "brin (created_at) pages_per_range 128",
        name: "bench_activity_brin128",
        schema: "analytics",
        create: "CREATE INDEX bench_activity_brin128 ON analytics.contact_activity USING brin (created_at)",
      },
      { key: "btree", label: "btree (created_at)", name: "idx_contact_activity_created_at", schema: "analytics" },
      {
        key: "covering",
        label: "btree (created_at) INCLUDE (organization_id, event_type, contact_id)",
        name: "bench_activity_covering",
        schema: "analytics",
        create:
          "CREATE INDEX bench_activity_covering ON analytics.contact_activity (created_at) INCLUDE (organization_id, event_type, contact_id)",
      },
    ],
    items: [
      { query: "hourly-aggregation", keep: [], candidate: "none (the notes' set)" },
      { query: "hourly-aggregation", keep: ["brin16"], candidate: "brin16" },
      { query: "hourly-aggregation", keep: ["brin32"], candidate: "brin32" },
      { query: "hourly-aggregation", keep: ["brin128"], candidate: "brin128" },
      { query: "hourly-aggregation", keep: ["btree"], candidate: "btree" },
      { query: "hourly-aggregation", keep: ["covering"], candidate: "covering" },
    ],
  },
  {
    group: "stale-execution-cleanup: partial vs full B-tree",
    indexes: [
      {
        key: "status-started",
        label: "btree (status, started_at)",
        name: "bench_executions_status_started",
        schema: "journey",
        create: "CREATE INDEX bench_executions_status_started ON journey.journey_executions (status, started_at)",
      },
      {
        key: "active-partial",
        label: "btree (started_at) WHERE status = 'active'",
        name: "idx_journey_executions_active_started",
        schema: "journey",
      },
    ],
    items: [
      { query: "stale-execution-cleanup", keep: [], candidate: "none (the notes' set)" },
      { query: "stale-execution-cleanup", keep: ["status-started"], candidate: "status-started" },
      { query: "stale-execution-cleanup", keep: ["active-partial"], candidate: "active-partial" },
    ],
  },
  {
    group: "segment query, largest organization: the notes' GIN vs additions",
    indexes: [
      {
        key: "gin",
        label: "the notes' gin (custom_fields jsonb_path_ops)",
        name: "idx_contacts_custom_fields_gin",
        schema: "crm",
      },
      {
        key: "org-active",
        label: "+ btree (organization_id) WHERE status = 'active'",
        name: "bench_contacts_org_active",
        schema: "crm",
        create: "CREATE INDEX bench_contacts_org_active ON crm.contacts (organization_id) WHERE status = 'active'",
      },
      {
        key: "city-expression",
        label: "+ btree (organization_id, (custom_fields->>'city')) WHERE status = 'active'",
        name: "bench_contacts_org_city",
        schema: "crm",
        create:
          "CREATE INDEX bench_contacts_org_city ON crm.contacts (organization_id, (custom_fields->>'city')) WHERE status = 'active'",
      },
    ],
    items: [
      { query: "segment-members", keep: ["gin"], candidate: "as written (->>), notes' set" },
      { query: "segment-members-containment", keep: ["gin"], candidate: "gin" },
      { query: "segment-members-containment", keep: ["gin", "org-active"], candidate: "org-active" },
      { query: "segment-members", keep: ["gin", "city-expression"], candidate: "city-expression" },
    ],
  },
];

/** Seconds of concurrent inserts between the two candidate measurements. */
const BURST_MS = 5_000;

async function measureItems(
  db: Client,
  params: Record<string, string[]>,
  o: BenchOptions,
  sizes: Map<string, number>,
): Promise<{ p50Ms: number; buffers: number; indexes: string[] }[]> {
  const out: { p50Ms: number; buffers: number; indexes: string[] }[] = [];
  for (const g of CANDIDATE_GROUPS) {
    for (const item of g.items) {
      const q = keyQuery(item.query);
      // hide the group's other indexes inside a transaction that rolls back
      await db.query("BEGIN");
      try {
        for (const ix of g.indexes)
          if (!item.keep.includes(ix.key)) await db.query(`DROP INDEX ${ix.schema}.${ix.name}`);
        const t = await timeQuery(db, q, params[q.name]!, { ...o, maxRuns: Math.min(o.maxRuns, 30) });
        const facts = planFacts(await explainQuery(db, q, params[q.name]!), sizes, q.table);
        out.push({ p50Ms: t.p50Ms, buffers: facts.sharedHit + facts.sharedRead, indexes: facts.indexes });
      } finally {
        await db.query("ROLLBACK");
      }
    }
  }
  return out;
}

/**
 * Every candidate is measured twice: on the seeded data as loaded, and after a few seconds of concurrent inserts
 * (new rows land in the free space vacuum recorded in old pages, as they do in production after autovacuum).
 */
async function measureCandidates(
  db: Client,
  url: string,
  params: Record<string, string[]>,
  o: BenchOptions,
): Promise<CandidateResult[]> {
  const built = new Map<string, { ms: number; bytes: number }>();
  for (const g of CANDIDATE_GROUPS) {
    for (const ix of g.indexes) {
      let ms = 0;
      if (ix.create) {
        const t = performance.now();
        await db.query(ix.create);
        ms = performance.now() - t;
      }
      const { rows } = await db.query<{ bytes: string }>(`SELECT pg_relation_size($1::regclass)::text AS bytes`, [
        `${ix.schema}.${ix.name}`,
      ]);
      built.set(`${g.group}/${ix.key}`, { ms, bytes: Number(rows[0]!.bytes) });
      o.log(`candidates: ${ix.label}: ${ix.create ? `built in ${fmt(ms)} ms` : "exists (migration)"}`);
    }
  }
  const tables = new Set(CANDIDATE_GROUPS.flatMap((g) => g.items.map((i) => keyQuery(i.query).table)));
  await db.query(`ANALYZE ${[...tables].join(", ")}`);
  const sizes = await tableSizes(db);
  const clean = await measureItems(db, params, o, sizes);
  o.log(`candidates: ${BURST_MS / 1000} s of concurrent inserts, then measuring again`);
  const writers = await startWriters(url, o.writerIntervalMs);
  await sleep(BURST_MS);
  await writers.stop();
  const after = await measureItems(db, params, o, sizes);
  // chosen = built by a migration, read from the migration files rather than declared beside each candidate
  const migrated = new Set(
    (await readMigrations()).flatMap((m) => m.statements.flatMap((st) => (st.index ? [st.index.name] : []))),
  );
  const results: CandidateResult[] = [];
  let i = 0;
  for (const g of CANDIDATE_GROUPS) {
    const base = i;
    for (const item of g.items) {
      const own = g.indexes.find((ix) => ix.key === item.candidate);
      const size = own ? built.get(`${g.group}/${own.key}`)! : { ms: 0, bytes: 0 };
      const c = clean[i]!;
      const w = after[i]!;
      results.push({
        group: g.group,
        query: item.query,
        candidate: own?.label ?? item.candidate,
        ...(own ? { index: own.name } : {}),
        chosen: own !== undefined && migrated.has(own.name),
        p50Ms: c.p50Ms,
        buffers: c.buffers,
        indexes: c.indexes,
        bytes: size.bytes,
        buildMs: size.ms,
        bufferRatio: c.buffers ? clean[base]!.buffers / c.buffers : 0,
        afterWrites: { p50Ms: w.p50Ms, buffers: w.buffers },
      });
      i++;
    }
  }
  for (const g of CANDIDATE_GROUPS)
    for (const ix of g.indexes) if (ix.create) await db.query(`DROP INDEX ${ix.schema}.${ix.name}`);
  await cleanWriterRows(db);
  return results;
}

async function indexSizes(db: Client, fixtureIndexes: Set<string>): Promise<IndexSize[]> {
  const schemas = [...new Set(SEEDED_TABLES.map((t) => t.split(".")[0]!))];
  const { rows } = await db.query<{ table: string; index: string; method: string; bytes: string }>(
    `SELECT n.nspname || '.' || t.relname AS table, i.relname AS index, am.amname AS method,
            pg_relation_size(i.oid)::text AS bytes
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam
      WHERE n.nspname = ANY($1::text[]) AND t.relname = ANY($2::text[])
      ORDER BY 1, 2`,
    [schemas, SEEDED_TABLES.map((t) => t.split(".")[1]!)],
  );
  const notes = new Set(NOTES_RECOMMENDED_INDEXES.map((i) => i.name));
  return rows.map((r) => ({
    ...r,
    bytes: Number(r.bytes),
    source: fixtureIndexes.has(r.index) ? "fixture" : notes.has(r.index) ? "notes" : "project",
  }));
}

export function targetsOf(r: Omit<BenchResult, "targets" | "totalMs">): Target[] {
  const c = new Map(r.configs.project.map((q) => [q.name, q]));
  const row = new Map(r.table.map((t) => [t.query, t]));
  const out: Target[] = [];
  const unserved = r.configs.project.filter((q) => q.verdict === "not-index-served").map((q) => q.name);
  out.push({
    target: "every key query index-served with the project's migrations",
    measured: unserved.length
      ? `not index-served: ${unserved.join(", ")}`
      : "all (the ->> segment query reported for rewrite)",
    ok: unserved.length === 0,
  });
  for (const q of KEY_QUERIES.filter((k) => k.p50TargetMs)) {
    const m = c.get(q.name)!;
    out.push({
      target: `${q.name} p50 < ${q.p50TargetMs} ms`,
      measured: `${fmt(m.p50Ms)} ms`,
      ok: m.p50Ms < q.p50TargetMs!,
    });
  }
  const daily = c.get("daily-send-count");
  out.push({
    target: "daily send count, largest organization",
    measured: `${daily?.value ?? "?"} sends counted in the last day, p50 ${fmt(daily?.p50Ms ?? 0)} ms`,
    ok: null,
  });
  const hourly = row.get("hourly-aggregation")!;
  out.push({
    target: "hourly aggregation >= 50x faster than the notes' set ((b)/(c))",
    measured: `${fmt(hourly.ratioBC)}x`,
    ok: hourly.ratioBC >= 50,
  });
  for (const name of ["stale-execution-cleanup", "segment-members-containment"]) {
    const t = row.get(name)!;
    const b = r.configs.notes.find((q) => q.name === name)!;
    const cc = c.get(name)!;
    out.push({
      target: `${name} vs the notes' set`,
      measured: `p50 ${fmt(t.ratioBC)}x, shared buffers ${b.sharedHit + b.sharedRead} -> ${cc.sharedHit + cc.sharedRead}`,
      ok: null,
    });
  }
  const w = r.writeAvailability;
  out.push({
    target: "through the runner, no write waits > 1 s while indexes build",
    measured: `longest stall ${fmt(w.runner.maxStallMs)} ms (plain CREATE INDEX: ${fmt(w.plain.maxStallMs)} ms, ${fmt(w.stallRatio)}x)`,
    ok: w.runner.maxStallMs < 1000,
  });
  return out;
}

const mb = (b: number) => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MB` : `${(b / 1024).toFixed(0)} kB`);

export function renderBench(r: BenchResult): string {
  const out: string[] = [];
  out.push(
    `index benchmark, scale ${r.scale}: ${r.sizes.contacts} contacts, ${r.sizes.contactActivity} activity rows, ${r.sizes.deliveryEvents} delivery events, ${r.sizes.journeyExecutions} executions; largest organization ${r.context.organizationContacts} contacts`,
    `${r.machine.postgres}, ${r.machine.cpus} cpus (load average ${r.machine.loadavg.start.toFixed(1)} at start, ${r.machine.loadavg.end.toFixed(1)} at end), shared_buffers ${r.machine.settings.shared_buffers}; p50/p95 in ms over up to ${r.configs.project[0]?.runs ?? "?"} runs`,
    "",
  );
  const c = new Map(r.configs.project.map((q) => [q.name, q]));
  out.push(
    table(
      ["QUERY", "(a) FIXTURE", "(b) + NOTES", "(c) + PROJECT", "(a)/(c)", "(b)/(c)", "INDEXES (c)", "BUFFERS (c)"],
      r.table.map((t) => {
        const q = c.get(t.query)!;
        return [
          t.query,
          `${fmt(t.a.p50Ms)} / ${fmt(t.a.p95Ms)}`,
          `${fmt(t.b.p50Ms)} / ${fmt(t.b.p95Ms)}`,
          `${fmt(t.c.p50Ms)} / ${fmt(t.c.p95Ms)}`,
          `${fmt(t.ratioAC)}x`,
          `${fmt(t.ratioBC)}x`,
          `${q.verdict === "needs-rewrite" ? "(rewrite) " : ""}${q.indexes.join(", ") || "-"}`,
          String(q.sharedHit + q.sharedRead),
        ];
      }),
    ),
  );
  out.push("", "write availability: writers on crm.contacts and analytics.contact_activity while the indexes build");
  const w = r.writeAvailability;
  out.push(
    table(
      ["BUILD", "INDEXES", "BUILD TIME", "INSERTS", "WRITE P50", "WRITE P99", "LONGEST STALL"],
      [w.plain, w.runner].map((p) => [
        p.method,
        String(p.builds.length),
        `${fmt(p.builds.reduce((a, b) => a + b.ms, 0) / 1000)} s`,
        String(p.writers.reduce((a, x) => a + x.inserts, 0)),
        `${fmt(Math.max(...p.writers.map((x) => x.p50Ms)))} ms`,
        `${fmt(p.p99Ms)} ms`,
        `${fmt(p.maxStallMs)} ms`,
      ]),
    ),
    `plain / runner: longest stall ${fmt(w.stallRatio)}x, write p99 ${fmt(w.p99Ratio)}x`,
  );
  out.push("", "index sizes");
  out.push(
    table(
      ["TABLE", "INDEX", "METHOD", "SOURCE", "SIZE"],
      r.indexSizes.map((i) => [i.table, i.index, i.method, i.source, mb(i.bytes)]),
    ),
  );
  if (r.candidates.length) {
    out.push("", "candidates behind the project's choices (shared buffers, largest organization where tenant-scoped)");
    out.push(
      table(
        [
          "QUERY",
          "CANDIDATE",
          "P50 MS",
          "BUFFERS",
          "VS BASELINE",
          "AFTER WRITES: P50 MS",
          "BUFFERS",
          "SIZE",
          "BUILD",
          "CHOSEN",
        ],
        r.candidates.map((x) => [
          x.query,
          x.candidate,
          fmt(x.p50Ms),
          String(x.buffers),
          `${fmt(x.bufferRatio)}x`,
          fmt(x.afterWrites.p50Ms),
          String(x.afterWrites.buffers),
          x.bytes ? mb(x.bytes) : "-",
          x.buildMs ? `${fmt(x.buildMs / 1000)} s` : "-",
          x.chosen ? "yes" : "",
        ]),
      ),
    );
  }
  out.push("", "targets");
  out.push(
    table(
      ["TARGET", "MEASURED", "MET"],
      r.targets.map((t) => [t.target, t.measured, t.ok === null ? "(report)" : t.ok ? "yes" : "NO"]),
    ),
  );
  out.push("", `total ${fmt(r.totalMs / 1000)} s`);
  return `${out.join("\n")}\n`;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg()[0]!;
  o.log("starting embedded PostgreSQL 17");
  const pg = await startPostgres();
  try {
    const admin = await pg.client();
    // bulk seeding without checkpoint storms; same for every phase
    await admin.query("ALTER SYSTEM SET max_wal_size = '8GB'");
    await admin.query("ALTER SYSTEM SET checkpoint_timeout = '30min'");
    await admin.query("SELECT pg_reload_conf()");
    await admin.end();
    const url = await pg.newDatabase({ name: "bench" });
    await loadFixture(url);
    const db = await openClient(url, "mauntic-bench");
    try {
      const fixtureIndexes = new Set(
        (
          await db.query<{ n: string }>("SELECT indexname AS n FROM pg_indexes WHERE schemaname <> 'pg_catalog'")
        ).rows.map((r) => r.n),
      );
      o.log(`seeding at scale ${o.scale}`);
      const seed = await seedData(db, o.scale, (s, i, n) => o.log(`seed ${seedStepLine(s, i, n)}`));
      const context = await checkContext(db);
      const params: Record<string, string[]> = {};
      for (const q of KEY_QUERIES) params[q.name] = await pickParams(db, q, context);
      const settings: Record<string, string> = {};
      for (const r of (
        await db.query<{ name: string; setting: string }>(
          `SELECT name, current_setting(name) AS setting FROM pg_settings
            WHERE name IN ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_parallel_workers_per_gather',
                           'fsync', 'synchronous_commit', 'max_wal_size', 'random_page_cost', 'effective_cache_size')`,
        )
      ).rows)
        settings[r.name] = r.setting;
      const version = (await db.query<{ v: string }>("SELECT split_part(version(), ' on ', 1) AS v")).rows[0]!.v;

      const fixture = await measureConfig(db, params, o, "(a) fixture");

      o.log("(b) building the notes' indexes with plain CREATE INDEX while writers insert");
      let writers = await startWriters(url, o.writerIntervalMs);
      await sleep(1000);
      const plainBuilds: { index: string; ms: number }[] = [];
      for (const ix of NOTES_RECOMMENDED_INDEXES) {
        const t = performance.now();
        await db.query(ix.sql);
        plainBuilds.push({ index: ix.name, ms: performance.now() - t });
      }
      await sleep(1000);
      const plain = summarizeWrites("plain CREATE INDEX (notes as written)", plainBuilds, await writers.stop());
      await cleanWriterRows(db);
      const notes = await measureConfig(db, params, o, "(b) + notes");

      o.log("(c) dropping the notes' indexes, then building every migration through the runner while writers insert");
      for (const ix of NOTES_RECOMMENDED_INDEXES) await db.query(`DROP INDEX ${ix.table.split(".")[0]}.${ix.name}`);
      writers = await startWriters(url, o.writerIntervalMs);
      await sleep(1000);
      const run = await migrate({ databaseUrl: url, reporter: lineReporter({ write: (s) => o.log(s.trimEnd()) }) });
      await sleep(1000);
      const runner = summarizeWrites(
        "runner (CREATE INDEX CONCURRENTLY)",
        run.migrations.map((m) => ({ index: m.name, ms: m.durationMs ?? 0 })),
        await writers.stop(),
      );
      await cleanWriterRows(db);
      const project = await measureConfig(db, params, o, "(c) + project");

      const sizesNow = await indexSizes(db, fixtureIndexes);
      const candidates = o.candidates ? await measureCandidates(db, url, params, o) : [];
      const byName = (list: QueryTiming[], n: string) => list.find((q) => q.name === n)!;
      const partial: Omit<BenchResult, "targets" | "totalMs"> = {
        startedAt,
        scale: o.scale,
        sizes: seed.sizes,
        machine: {
          cpus: os.cpus().length,
          node: process.version,
          postgres: version,
          settings,
          loadavg: { start: loadStart, end: os.loadavg()[0]! },
        },
        seedMs: seed.ms,
        context,
        params,
        configs: { fixture, notes, project },
        table: KEY_QUERIES.map((q) => {
          const a = byName(fixture, q.name);
          const b = byName(notes, q.name);
          const c = byName(project, q.name);
          return {
            query: q.name,
            a: { p50Ms: a.p50Ms, p95Ms: a.p95Ms },
            b: { p50Ms: b.p50Ms, p95Ms: b.p95Ms },
            c: { p50Ms: c.p50Ms, p95Ms: c.p95Ms },
            ratioAC: a.p50Ms / c.p50Ms,
            ratioBC: b.p50Ms / c.p50Ms,
          };
        }),
        writeAvailability: {
          plain,
          runner,
          stallRatio: plain.maxStallMs / runner.maxStallMs,
          p99Ratio: plain.p99Ms / runner.p99Ms,
        },
        indexSizes: sizesNow,
        candidates,
      };
      return { ...partial, targets: targetsOf(partial), totalMs: performance.now() - t0 };
    } finally {
      await db.end().catch(() => undefined);
    }
  } finally {
    await pg.stop().catch(() => undefined);
  }
}

/** Writes the result as JSON under bench/results/ and returns the path. */
export function writeResult(r: BenchResult, dir = RESULTS_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `indexes-scale-${r.scale}-${r.startedAt.replace(/[:.]/g, "-")}.json`);
  fs.writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, `indexes-latest.json`), `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
