/**
 * The explain check on embedded PostgreSQL 17 with seeded data (scale 0.05, as the rehearsal): with the fixture's
 * indexes alone the unserved queries fail; after the migrations every key query is index-served; dropping any
 * index a query's plan used fails the check for that query (exit 1 through the CLI); the `->>` segment query is
 * judged on its plan: reported for the containment rewrite with both plans while no index serves `->>` and the
 * containment form is index-served, failed when that form loses its index, served when an index applies `->>`.
 */
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFixture } from "../migrations/fixture/load";
import { KEY_QUERIES } from "../migrations/queries/catalog";
import { runCheck, type CheckReport, type PlanNode } from "../migrations/queries/explain";
import { seedData } from "../migrations/queries/seed";
import { openClient } from "../migrations/runner/connect";
import { migrate } from "../migrations/runner/runner";
import { runCli } from "./helpers/cli";
import { withClient } from "./helpers/db";
import { usePostgres } from "../migrations/embedded";

const pg = usePostgres({ beforeAll, afterAll });

let fixtureOnly: string;
let migrated: string;
let db: Client;
beforeAll(async () => {
  // seed once into a template, then copy it: one database with the fixture's indexes, one migrated
  const template = await pg.newDatabase({ name: "seeded" });
  await loadFixture(template);
  await withClient(template, (t) => seedData(t, 0.05));
  fixtureOnly = await pg.newDatabase({ template: "seeded" });
  migrated = await pg.newDatabase({ template: "seeded" });
  await migrate({ databaseUrl: migrated });
  db = await openClient(migrated);
});
afterAll(async () => {
  await db?.end();
});

/** Every required query with the index (or primary key) it needs. */
const REQUIRED = KEY_QUERIES.filter((q) => q.servedBy.length > 0);

/** Every node of an EXPLAIN (FORMAT JSON) plan, read here rather than through the check's own walker. */
function planNodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(planNodes)];
}

/** The indexes the plan scanned, each once. */
function usedIndexes(plan: PlanNode): string[] {
  return [...new Set(planNodes(plan).flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : [])))];
}

async function inTransaction(body: () => Promise<void>) {
  await db.query("BEGIN");
  try {
    await body();
  } finally {
    await db.query("ROLLBACK");
  }
}

async function indexCount(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname IN ('crm', 'delivery', 'analytics', 'journey')",
  );
  return rows[0]!.n;
}

/** Drops these indexes (a primary key through its constraint). */
async function dropIndexes(names: string[]) {
  for (const name of names) {
    const { rows } = await db.query<{ schema: string; table: string; pkey: boolean }>(
      `SELECT n.nspname AS schema, t.relname AS table, x.indisprimary AS pkey
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = i.relnamespace WHERE i.relname = $1`,
      [name],
    );
    const ix = rows[0]!;
    await db.query(
      ix.pkey ? `ALTER TABLE ${ix.schema}.${ix.table} DROP CONSTRAINT ${name}` : `DROP INDEX ${ix.schema}.${name}`,
    );
  }
}

describe("the explain check", () => {
  it("fails the queries the fixture's indexes leave unserved", async () => {
    await withClient(fixtureOnly, async (c) => {
      const r = await runCheck(c);
      expect(r.ok).toBe(false);
      expect(r.failures.sort()).toEqual(
        [
          "campaign-performance",
          "daily-send-count",
          "hourly-aggregation",
          // its containment form is not index-served either
          "segment-members",
          "segment-members-containment",
          "stale-execution-cleanup",
        ].sort(),
      );
      const hourly = r.queries.find((q) => q.name === "hourly-aggregation")!;
      expect(hourly.facts.bigSeqScans.map((s) => s.table)).toEqual(["analytics.contact_activity"]);
      expect(hourly.problems.join()).toMatch(/sequential scan over analytics.contact_activity \(250000 rows\)/);
    });
  });

  let report: CheckReport;
  it("passes after the migrations: every required query uses its index, with timings and buffers", async () => {
    report = await runCheck(db);
    expect(report.ok).toBe(true);
    expect(report.failures).toEqual([]);
    expect(report.context.organizationContacts).toBeGreaterThan(5000);
    for (const q of REQUIRED) {
      const r = report.queries.find((x) => x.name === q.name)!;
      expect(r.verdict, `${q.name}: ${r.problems.join("; ")}`).toBe("index-served");
      expect(r.facts.indexes.some((i) => q.servedBy.includes(i))).toBe(true);
      expect(r.facts.bigSeqScans).toEqual([]);
      expect(r.facts.executionMs).toBeGreaterThan(0);
      expect(r.facts.sharedHit + r.facts.sharedRead).toBeGreaterThan(0);
      expect(r.params.length).toBeGreaterThan(0);
    }
  });

  it("reports the ->> segment query for the containment rewrite because its plan applies ->> as a filter", () => {
    const seg = report.queries.find((q) => q.name === "segment-members")!;
    // read the plan itself: no index condition applies ->>, a filter does
    const nodes = planNodes(seg.plan.Plan);
    expect(nodes.filter((n) => String(n["Index Cond"] ?? "").includes("->>"))).toEqual([]);
    expect(nodes.some((n) => String(n.Filter ?? "").includes("->>"))).toBe(true);
    expect(seg.verdict).toBe("needs-rewrite");
    expect(seg.problems.join()).toMatch(
      /no index in the plan serves `->>` \(plan uses .*filter .*custom_fields ->> 'city'/,
    );
    expect(seg.problems.join()).toMatch(/jsonb_path_ops index serves @>, @\?, @@ only/);
    expect(seg.facts.indexes).not.toContain("idx_contacts_custom_fields_gin");
    expect(seg.rewrite).toMatchObject({ name: "segment-members-containment", verdict: "index-served" });
    expect(seg.rewrite!.facts.indexes).toContain("idx_contacts_custom_fields_gin");
    // the same members either way
    expect(seg.rewrite!.facts.rows).toBe(seg.facts.rows);
    expect(seg.facts.rows).toBeGreaterThan(0);
  });

  it("fails the ->> segment query when its containment form stops being index-served", async () => {
    const containment = report.queries.find((q) => q.name === "segment-members-containment")!;
    await inTransaction(async () => {
      await dropIndexes(usedIndexes(containment.plan.Plan));
      const r = await runCheck(db, { only: ["segment-members"] });
      expect(r.ok).toBe(false);
      expect(r.failures).toEqual(["segment-members"]);
      expect(r.queries.map((q) => q.name)).toEqual(["segment-members"]);
      expect(r.queries[0]!.problems.join()).toMatch(
        /no index in the plan serves `->>`.*its rewrite segment-members-containment is not-index-served/,
      );
    });
  });

  it("calls the ->> segment query index-served when an index condition applies ->>", async () => {
    await inTransaction(async () => {
      await db.query(
        "CREATE INDEX test_contacts_org_city ON crm.contacts (organization_id, (custom_fields->>'city')) WHERE status = 'active'",
      );
      await db.query("ANALYZE crm.contacts");
      const r = await runCheck(db, { only: ["segment-members"] });
      const seg = r.queries[0]!;
      expect(
        seg.facts.indexConditions.some((c) => c.index === "test_contacts_org_city" && c.cond.includes("->>")),
      ).toBe(true);
      expect(seg.verdict).toBe("index-served");
      expect(r.ok).toBe(true);
    });
  });

  it.each(REQUIRED.map((q) => [q.name, q] as const))(
    "fails %s when the index its plan used is dropped",
    async (_, q) => {
      const used = usedIndexes(report.queries.find((x) => x.name === q.name)!.plan.Plan);
      expect(used.length).toBeGreaterThan(0);
      await inTransaction(async () => {
        const before = await indexCount();
        await dropIndexes(used);
        // only what the plan used is gone
        expect(await indexCount()).toBe(before - used.length);
        const r = await runCheck(db, { only: [q.name] });
        expect(r.ok).toBe(false);
        expect(r.failures).toEqual([q.name]);
        expect(r.queries[0]!.facts.indexes.filter((i) => used.includes(i))).toEqual([]);
        expect(r.queries[0]!.problems.join()).toMatch(new RegExp(`not served by ${used.join("|")}`));
      });
    },
  );

  it("as a command: exit 0 with the query table and the rewrite comparison; --json carries plans", async () => {
    const text = await runCli(["explain", "--database-url", migrated]);
    expect(text.code).toBe(0);
    for (const q of KEY_QUERIES) expect(text.stdout).toContain(q.name);
    expect(text.stdout).toMatch(/segment-members\s+REWRITE/);
    expect(text.stdout).toMatch(/AS WRITTEN \(segment-members\)\s+REWRITTEN \(segment-members-containment\)/);
    expect(text.stdout).toMatch(/every key query that must be index-served is \(9 of 10; 1 reported for rewrite\)/);

    const json = await runCli(["explain", "--database-url", migrated, "--json"]);
    expect(json.code).toBe(0);
    const r = JSON.parse(json.stdout) as CheckReport;
    expect(r.ok).toBe(true);
    expect(r.queries).toHaveLength(KEY_QUERIES.length);
    expect(r.queries[0]!.plan.Plan["Node Type"]).toBeTruthy();
  });

  it("as a command: exit 1 naming the query when a needed index is gone; exit 2 for bad input", async () => {
    const url = await pg.newDatabase({ template: "seeded" });
    await migrate({ databaseUrl: url });
    await withClient(url, (c) => c.query("DROP INDEX journey.idx_journey_executions_active_started"));
    const r = await runCli(["explain", "--database-url", url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL stale-execution-cleanup: .*not served by idx_journey_executions_active_started/);
    expect(r.stdout).toMatch(/1 key query is not index-served: stale-execution-cleanup/);

    // the ->> segment query fails too once its containment form loses the GIN index
    await withClient(url, (c) => c.query("DROP INDEX crm.idx_contacts_custom_fields_gin"));
    const seg = await runCli(["explain", "--database-url", url, "--query", "segment-members"]);
    expect(seg.code).toBe(1);
    expect(seg.stdout).toMatch(/FAIL segment-members: no index in the plan serves `->>`/);
    expect(seg.stdout).toMatch(/1 key query is not index-served: segment-members$/m);

    const unknown = await runCli(["explain", "--database-url", url, "--query", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no such key query \(allowed: contact-list/);
    const noUrl = await runCli(["explain"], { env: { DATABASE_URL: "" } });
    expect(noUrl.code).toBe(2);
  });
});
