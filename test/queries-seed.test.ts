/**
 * seed-data on embedded PostgreSQL 17 at small scales: row counts follow the scale, organization sizes are skewed,
 * activity is in time order over 90 days, rows reference each other consistently, the same scale yields the same
 * rows, and the command refuses what it must (no fixture, filled tables, bad scale).
 */
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CITIES, HISTORY_DAYS, SeedError, seedData, seedSizes } from "../migrations/queries/seed";
import { openClient } from "../migrations/runner/connect";
import { runCli } from "./helpers/cli";
import { fixtureDb, withClient } from "./helpers/db";
import { usePostgres } from "../migrations/embedded";

const pg = usePostgres({ beforeAll, afterAll });

async function seeded(scale: number): Promise<{ url: string; db: Client }> {
  const url = await fixtureDb(pg);
  const db = await openClient(url);
  await seedData(db, scale);
  return { url, db };
}

const num = async (db: Client, sql: string) => Number((await db.query(sql)).rows[0]!.v);

let small: { url: string; db: Client };
let double: { url: string; db: Client };
beforeAll(async () => {
  small = await seeded(0.01);
  double = await seeded(0.02);
});
afterAll(async () => {
  await small?.db.end();
  await double?.db.end();
});

describe("seed-data", () => {
  it("fills each table with the scale's row count (campaign stats roughly proportional)", async () => {
    for (const [scale, { db }] of [
      [0.01, small],
      [0.02, double],
    ] as const) {
      const z = seedSizes(scale);
      expect(await num(db, "SELECT count(*) AS v FROM identity.organizations")).toBe(z.organizations);
      expect(await num(db, "SELECT count(*) AS v FROM crm.contacts")).toBe(z.contacts);
      expect(await num(db, "SELECT count(*) AS v FROM analytics.contact_activity")).toBe(z.contactActivity);
      expect(await num(db, "SELECT count(*) AS v FROM delivery.delivery_events")).toBe(z.deliveryEvents);
      expect(await num(db, "SELECT count(*) AS v FROM delivery.suppressions")).toBe(z.suppressions);
      expect(await num(db, "SELECT count(*) AS v FROM journey.journey_executions")).toBe(z.journeyExecutions);
    }
    const stats = (db: Client) => num(db, "SELECT count(*) AS v FROM analytics.campaign_daily_stats");
    const ratio = (await stats(double.db)) / (await stats(small.db));
    expect(ratio).toBeGreaterThan(1.5);
    expect(ratio).toBeLessThan(2.6);
  });

  it("makes organizations very unequal: the largest holds ~ln2/ln(n+1) of contacts, far above the median", async () => {
    const { rows } = await double.db.query<{ n: string }>(
      "SELECT count(*) AS n FROM crm.contacts GROUP BY organization_id ORDER BY 1 DESC",
    );
    const counts = rows.map((r) => Number(r.n));
    const z = seedSizes(0.02);
    expect(counts).toHaveLength(z.organizations);
    const share = counts[0]! / z.contacts;
    const expected = Math.log(2) / Math.log(z.organizations + 1);
    expect(Math.abs(share - expected)).toBeLessThan(0.02);
    const median = counts[Math.floor(counts.length / 2)]!;
    expect(counts[0]! / median).toBeGreaterThan(5);
    expect(counts[0]! / counts[counts.length - 1]!).toBeGreaterThan(10);
    // the skew carries into activity: the largest organization also has the most events
    const top = await double.db.query<{ o: string }>(
      "SELECT organization_id AS o FROM analytics.contact_activity GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
    );
    const largest = await double.db.query<{ o: string }>(
      "SELECT organization_id AS o FROM crm.contacts GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
    );
    expect(top.rows[0]!.o).toBe(largest.rows[0]!.o);
  });

  it("writes activity in time order over the history window and analyzes the tables", async () => {
    const { db } = double;
    const corr = await num(
      db,
      "SELECT correlation AS v FROM pg_stats WHERE schemaname = 'analytics' AND tablename = 'contact_activity' AND attname = 'created_at'",
    );
    expect(corr).toBeGreaterThan(0.99);
    const days = await num(
      db,
      "SELECT extract(epoch FROM max(created_at) - min(created_at)) / 86400 AS v FROM analytics.contact_activity",
    );
    expect(days).toBeGreaterThan(HISTORY_DAYS - 1);
    expect(days).toBeLessThan(HISTORY_DAYS + 0.1);
    // vacuumed and analyzed: the planner sees the real size
    expect(await num(db, "SELECT reltuples AS v FROM pg_class WHERE oid = 'crm.contacts'::regclass")).toBe(
      seedSizes(0.02).contacts,
    );
  });

  it("gives contacts plausible custom fields, with New York the most common city", async () => {
    const { rows } = await double.db.query<{ city: string | null; n: string }>(
      "SELECT custom_fields->>'city' AS city, count(*) AS n FROM crm.contacts GROUP BY 1 ORDER BY 2 DESC",
    );
    const total = rows.reduce((a, r) => a + Number(r.n), 0);
    const withCity = rows.filter((r) => r.city !== null);
    expect(withCity[0]!.city).toBe("New York");
    expect(withCity.every((r) => (CITIES as readonly string[]).includes(r.city!))).toBe(true);
    const noCity = Number(rows.find((r) => r.city === null)?.n ?? 0) / total;
    expect(noCity).toBeGreaterThan(0.05);
    expect(noCity).toBeLessThan(0.15);
    const keys = await double.db.query<{ k: string }>(
      "SELECT DISTINCT jsonb_object_keys(custom_fields) AS k FROM crm.contacts ORDER BY 1",
    );
    expect(keys.rows.map((r) => r.k)).toEqual(["city", "company_size", "newsletter", "plan", "score", "source"]);
  });

  it("keeps executions mostly finished, with recent active ones and some stale ones", async () => {
    const { rows } = await double.db.query<{ status: string; n: string; stale: string }>(
      `SELECT status, count(*) AS n,
              count(*) FILTER (WHERE started_at < (SELECT max(started_at) FROM journey.journey_executions) - interval '7 days') AS stale
         FROM journey.journey_executions GROUP BY status`,
    );
    const by = Object.fromEntries(rows.map((r) => [r.status, { n: Number(r.n), stale: Number(r.stale) }]));
    const total = rows.reduce((a, r) => a + Number(r.n), 0);
    expect(by.completed!.n / total).toBeGreaterThan(0.7);
    expect(by.active!.n / total).toBeLessThan(0.1);
    expect(by.active!.stale).toBeGreaterThan(0);
    expect(by.active!.n - by.active!.stale).toBeGreaterThan(0);
  });

  it("references consistently: suppressions are contacts of their organization, events have their jobs", async () => {
    const orphans = [
      `SELECT count(*) AS v FROM delivery.suppressions s
        WHERE NOT EXISTS (SELECT 1 FROM crm.contacts c WHERE c.organization_id = s.organization_id AND c.email = s.email)`,
      `SELECT count(*) AS v FROM delivery.delivery_events e
        WHERE NOT EXISTS (SELECT 1 FROM delivery.delivery_jobs j WHERE j.id = e.job_id AND j.organization_id = e.organization_id)`,
      `SELECT count(*) AS v FROM analytics.contact_activity a
        WHERE NOT EXISTS (SELECT 1 FROM crm.contacts c WHERE c.id = a.contact_id AND c.organization_id = a.organization_id)`,
    ];
    for (const sql of orphans) expect(await num(small.db, sql), sql).toBe(0);
  });

  it("yields the same rows for the same scale", async () => {
    const again = await seeded(0.01);
    try {
      const digest = (db: Client) =>
        db.query<{ v: string }>(
          "SELECT md5(string_agg(id::text || email || custom_fields::text, ',' ORDER BY id)) AS v FROM crm.contacts",
        );
      expect((await digest(again.db)).rows[0]!.v).toBe((await digest(small.db)).rows[0]!.v);
    } finally {
      await again.db.end();
    }
  });

  it("refuses a database without the fixture and tables that already have rows", async () => {
    await withClient(await pg.newDatabase(), (empty) =>
      expect(seedData(empty, 0.01)).rejects.toThrow(/fixture is not loaded/),
    );
    await expect(seedData(small.db, 0.01)).rejects.toThrow(SeedError);
    await expect(seedData(small.db, 0.01)).rejects.toThrow(/already have rows: identity.organizations, crm.contacts/);
  });

  it("as a command: exit 2 for a bad scale or a seeded database, 0 with a summary otherwise", async () => {
    const bad = await runCli(["seed-data", "--database-url", small.url, "--scale", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--scale '0' is not a scale \(allowed: a number from 0.001 to 10/);
    const filled = await runCli(["seed-data", "--database-url", small.url, "--scale", "0.01"]);
    expect(filled.code).toBe(2);
    expect(filled.stderr).toMatch(/already have rows/);
    const url = await fixtureDb(pg);
    const ok = await runCli(["seed-data", "--database-url", url, "--scale", "0.002"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/seeded .* at scale 0.002: \d+ rows .*\(10 organizations, 2000 contacts\)/);
    expect(ok.stderr).toMatch(/\[10\/10\] vacuum analyze/);
  });
});
