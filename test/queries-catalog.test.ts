/**
 * The key-query catalog and the explain check's plan reading, without a database: the SQL parses, parameters and
 * pickers agree, every index a query must use is one the fixture or a migration creates, the notes' recommended
 * set (benchmark phase b) is the migrations 0001..0005 minus CONCURRENTLY, and plan facts read JSON plans right.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseSync } from "libpg-query";
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_FILE } from "../migrations/fixture/load";
import { KEY_QUERIES, NOTES_RECOMMENDED_INDEXES, keyQuery } from "../migrations/queries/catalog";
import { planFacts, verdictOf, type ExplainJson } from "../migrations/queries/explain";
import { seedSizes, seedStatements } from "../migrations/queries/seed";
import { loadParser, readMigrations } from "../migrations/runner/files";
import { ROOT } from "./helpers/cli";
import { NOTES_QUERIES } from "./helpers/notes-queries";

type Node = Record<string, unknown>;

/** Parse tree without source positions and without the safety options the runner requires. */
function indexShape(sql: string): Node {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v as Node)
          .filter(([k]) => !["location", "concurrent", "if_not_exists"].includes(k))
          .map(([k, x]) => [k, strip(x)]),
      );
    }
    return v;
  };
  const stmts = (parseSync(sql) as { stmts: { stmt: Node }[] }).stmts;
  expect(stmts).toHaveLength(1);
  return strip(stmts[0]!.stmt) as Node;
}

function maxParam(sql: string): number {
  return Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
}

let createdIndexes = new Set<string>();
beforeAll(async () => {
  await loadParser();
  const fixture = fs.readFileSync(FIXTURE_FILE, "utf8");
  const names = [...fixture.matchAll(/CREATE (?:UNIQUE )?INDEX (\w+)/g)].map((m) => m[1]!);
  // primary keys are named <table>_pkey by PostgreSQL
  names.push(...[...fixture.matchAll(/CREATE TABLE \w+\.(\w+) \(\s*id uuid PRIMARY KEY/g)].map((m) => `${m[1]}_pkey`));
  for (const m of await readMigrations(path.join(ROOT, "migrations"))) {
    for (const s of m.statements) if (s.index) names.push(s.index.name);
  }
  createdIndexes = new Set(names);
});

describe("the key-query catalog", () => {
  it("holds the notes' nine key queries plus the containment form of the segment query", () => {
    expect(KEY_QUERIES.map((q) => q.name)).toEqual(NOTES_QUERIES);
    expect(keyQuery("segment-members").sql).toContain("c.custom_fields->>'city' = 'New York';");
    expect(keyQuery("segment-members-containment").sql).toContain(`c.custom_fields @> '{"city": "New York"}'`);
    expect(keyQuery("segment-members").rewrite).toMatchObject({ to: "segment-members-containment", operator: "->>" });
    expect(() => keyQuery("nope")).toThrow(/allowed: contact-list/);
  });

  it.each(KEY_QUERIES.map((q) => [q.name, q] as const))("%s parses and its picker yields its parameters", (_, q) => {
    expect(() => parseSync(q.sql)).not.toThrow();
    expect(() => parseSync(q.params.sql)).not.toThrow();
    const target = (parseSync(q.params.sql) as { stmts: { stmt: { SelectStmt: { targetList: unknown[] } } }[] })
      .stmts[0]!.stmt.SelectStmt.targetList;
    expect(target).toHaveLength(maxParam(q.sql));
    expect(maxParam(q.params.sql)).toBe(q.params.args.length);
    expect(q.sql).toContain(`FROM ${q.table}`);
  });

  it("names only indexes that the fixture or a migration creates", () => {
    const named = KEY_QUERIES.flatMap((q) => q.servedBy);
    expect(named.length).toBeGreaterThanOrEqual(9);
    expect(named.filter((n) => !createdIndexes.has(n))).toEqual([]);
  });

  it("keeps the notes' recommended indexes as written, and migrations 0001..0005 are them made safe", async () => {
    const migrations = (await readMigrations(path.join(ROOT, "migrations"))).filter((m) => m.version <= 5);
    expect(migrations).toHaveLength(5);
    for (const notes of NOTES_RECOMMENDED_INDEXES) {
      expect(notes.sql).not.toMatch(/CONCURRENTLY|IF NOT EXISTS/);
      const m = migrations.find((x) => x.statements.some((s) => s.index?.name === notes.name));
      expect(m, notes.name).toBeDefined();
      expect(indexShape(m!.statements[0]!.sql)).toEqual(indexShape(notes.sql));
    }
  });
});

describe("seed sizes", () => {
  it("scale linearly, keep at least ten organizations, and refuse scales out of range", () => {
    const one = seedSizes(1);
    expect(one).toMatchObject({ organizations: 1000, contacts: 1_000_000, contactActivity: 5_000_000 });
    const small = seedSizes(0.05);
    expect(small.contacts * 20).toBe(one.contacts);
    expect(small.deliveryEvents * 20).toBe(one.deliveryEvents);
    expect(seedSizes(0.001).organizations).toBe(10);
    expect(() => seedSizes(0)).toThrow(/allowed: 0.001 to 10/);
    expect(() => seedSizes(11)).toThrow(RangeError);
  });

  it("generates with generate_series inside PostgreSQL, one INSERT ... SELECT per table", () => {
    for (const s of seedStatements(seedSizes(0.05))) {
      expect(s.sql).toMatch(/^INSERT INTO /);
      expect(() => parseSync(s.sql)).not.toThrow();
    }
  });
});

const plan = (root: Node, exec = 1.5): ExplainJson =>
  ({ Plan: root, "Planning Time": 0.1, "Execution Time": exec }) as unknown as ExplainJson;
const sizes = new Map([
  ["analytics.contact_activity", 5_000_000],
  ["contact_activity", 5_000_000],
  ["analytics.campaign_daily_stats", 9_000],
  ["campaign_daily_stats", 9_000],
]);

describe("plan facts and verdicts", () => {
  it("flags a (parallel) seq scan over a table of more than 10,000 rows, not over a smaller one", () => {
    const f = planFacts(
      plan({
        "Node Type": "Gather",
        "Actual Rows": 3,
        "Shared Hit Blocks": 10,
        "Shared Read Blocks": 90,
        Plans: [{ "Node Type": "Seq Scan", "Parallel Aware": true, "Relation Name": "contact_activity" }],
      }),
      sizes,
      "analytics.contact_activity",
    );
    expect(f.bigSeqScans).toEqual([{ table: "analytics.contact_activity", tableRows: 5_000_000 }]);
    expect(f).toMatchObject({ sharedHit: 10, sharedRead: 90, rows: 3, executionMs: 1.5 });
    expect(verdictOf(keyQuery("hourly-aggregation"), f).verdict).toBe("not-index-served");

    const small = planFacts(plan({ "Node Type": "Seq Scan", "Relation Name": "campaign_daily_stats" }), sizes);
    expect(small.bigSeqScans).toEqual([]);
    // no big seq scan, but not the index the catalog names: still a failure
    const v = verdictOf(keyQuery("campaign-performance"), small);
    expect(v.verdict).toBe("not-index-served");
    expect(v.problems.join()).toMatch(/not served by idx_campaign_daily_stats_campaign \(plan uses no index\)/);
  });

  it("collects index names from index, index-only and bitmap scans, once each", () => {
    const f = planFacts(
      plan({
        "Node Type": "Bitmap Heap Scan",
        Plans: [
          {
            "Node Type": "BitmapAnd",
            Plans: [
              { "Node Type": "Bitmap Index Scan", "Index Name": "idx_contacts_custom_fields_gin" },
              { "Node Type": "Bitmap Index Scan", "Index Name": "contacts_org_updated_idx" },
            ],
          },
          { "Node Type": "Index Only Scan", "Index Name": "contacts_org_updated_idx" },
        ],
      }),
      sizes,
    );
    expect(f.indexes).toEqual(["idx_contacts_custom_fields_gin", "contacts_org_updated_idx"]);
    expect(verdictOf(keyQuery("segment-members-containment"), f)).toEqual({ verdict: "index-served", problems: [] });
  });

  it("judges the ->> segment query on its plan: served, reported for its rewrite, or failed", () => {
    const seg = keyQuery("segment-members");
    // as PostgreSQL 17 prints them in EXPLAIN (FORMAT JSON)
    const filtered = planFacts(
      plan({
        "Node Type": "Index Scan",
        "Index Name": "contacts_org_updated_idx",
        "Index Cond": "(organization_id = '0b6f0f4e-0000-4000-8000-000000000001'::uuid)",
        Filter: "(((status)::text = 'active'::text) AND ((custom_fields ->> 'city'::text) = 'New York'::text))",
      }),
      sizes,
    );
    const rewrite = verdictOf(seg, filtered, "index-served");
    expect(rewrite.verdict).toBe("needs-rewrite");
    expect(rewrite.problems.join()).toMatch(
      /no index in the plan serves `->>` \(plan uses contacts_org_updated_idx; filter .*custom_fields ->> 'city'/,
    );
    // the rewritten form not index-served (or not measured): the as-written form fails
    for (const rewritten of ["not-index-served", undefined] as const) {
      const v = verdictOf(seg, filtered, rewritten);
      expect(v.verdict).toBe("not-index-served");
      expect(v.problems.join()).toMatch(/its rewrite segment-members-containment is (not-index-served|not checked)/);
    }
    // an index whose condition applies ->> serves it as written, whatever the rewrite's verdict
    const expression = planFacts(
      plan({
        "Node Type": "Index Scan",
        "Index Name": "contacts_org_city_idx",
        "Index Cond":
          "((organization_id = '0b6f0f4e-0000-4000-8000-000000000001'::uuid) AND ((custom_fields ->> 'city'::text) = 'New York'::text))",
      }),
      sizes,
    );
    expect(verdictOf(seg, expression, "not-index-served")).toEqual({ verdict: "index-served", problems: [] });
  });
});
