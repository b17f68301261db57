/**
 * The benchmark's measuring parts (never its speed): writers count a blocked insert's whole wait from its
 * scheduled time, and the bench command runs end to end at a tiny scale, candidates included, writing the JSON the
 * README table comes from; results are checked against the notes' query list and the migration files, not the
 * lists the benchmark itself loops over.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetsOf, type BenchResult } from "../bench/indexes";
import { percentile, startWriters } from "../bench/writers";
import { ROOT, runCli } from "./helpers/cli";
import { fixtureDb, withClient } from "./helpers/db";
import { usePostgres } from "../migrations/embedded";
import { NOTES_QUERIES } from "./helpers/notes-queries";

const pg = usePostgres({ beforeAll, afterAll });

describe("bench writers", () => {
  it("percentile picks the nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
  });

  it("counts every insert queued behind a lock with its wait from the scheduled time", async () => {
    const url = await fixtureDb(pg);
    await withClient(url, async (locker) => {
      const writers = await startWriters(url, 10);
      await new Promise((r) => setTimeout(r, 200));
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE crm.contacts IN SHARE MODE");
      const held = performance.now();
      await new Promise((r) => setTimeout(r, 1000));
      await locker.query("COMMIT");
      const heldMs = performance.now() - held;
      await new Promise((r) => setTimeout(r, 200));
      const stats = await writers.stop();
      const contacts = stats.find((s) => s.table === "crm.contacts")!;
      const activity = stats.find((s) => s.table === "analytics.contact_activity")!;
      expect(contacts.errors).toBe(0);
      // the first blocked insert waited about as long as the lock was held ...
      expect(contacts.maxMs).toBeGreaterThanOrEqual(heldMs - 50);
      // ... and the ones scheduled while it waited count their waits too, so p99 sees the stall
      expect(contacts.p99Ms).toBeGreaterThan(heldMs / 2);
      // they ran throughout: ~140 are scheduled, a machine under load completes fewer (59 seen at load 17), so
      // the count is only checked against the rows the table holds, below
      expect(contacts.inserts).toBeGreaterThanOrEqual(10);
      // the other table was never blocked
      expect(activity.maxMs).toBeLessThan(contacts.maxMs);
      const rows = await locker.query("SELECT count(*)::int AS n FROM crm.contacts");
      expect(rows.rows[0].n).toBe(contacts.inserts);
    });
  });
});

/** Indexes the migration files create, read from the SQL itself. */
const MIGRATION_INDEXES = new Set(
  fs
    .readdirSync(path.join(ROOT, "migrations"))
    .filter((f) => /^\d{4}_.*\.sql$/.test(f))
    .flatMap((f) =>
      [
        ...fs
          .readFileSync(path.join(ROOT, "migrations", f), "utf8")
          .matchAll(/CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?(\w+)/gi),
      ].map((m) => m[1]!),
    ),
);

const RUNNER_TARGET = "through the runner, no write waits > 1 s while indexes build";

describe("bench command", () => {
  it("measures the three index sets, write availability, index sizes and the candidates, and writes JSON", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-bench-"));
    try {
      const r = await runCli(["bench", "--scale", "0.005", "--runs", "5", "--budget-ms", "0", "--results-dir", dir]);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stdout).toMatch(
        /QUERY\s+\(a\) FIXTURE\s+\(b\) \+ NOTES\s+\(c\) \+ PROJECT\s+\(a\)\/\(c\)\s+\(b\)\/\(c\)/,
      );
      expect(r.stdout).toMatch(/plain \/ runner: longest stall [\d.]+x, write p99 [\d.]+x/);
      const result = JSON.parse(fs.readFileSync(path.join(dir, "indexes-latest.json"), "utf8")) as BenchResult;
      for (const config of ["fixture", "notes", "project"] as const) {
        expect(result.configs[config].map((q) => q.name)).toEqual(NOTES_QUERIES);
        for (const q of result.configs[config]) expect(q.runs).toBe(5);
      }
      expect(result.table.map((t) => t.query)).toEqual(NOTES_QUERIES);
      expect(result.configs.project.find((q) => q.name === "hourly-aggregation")!.indexes).toContain(
        "idx_contact_activity_created_at",
      );
      // the fixture alone seq-scans activity; the notes' set does too
      expect(result.configs.fixture.find((q) => q.name === "hourly-aggregation")!.verdict).toBe("not-index-served");
      expect(result.configs.notes.find((q) => q.name === "hourly-aggregation")!.verdict).toBe("not-index-served");
      // the ->> form is judged on its plan: a rewrite while the containment form is served
      expect(result.configs.project.find((q) => q.name === "segment-members")!.verdict).toBe("needs-rewrite");
      expect(result.writeAvailability.plain.builds).toHaveLength(5);
      expect(result.writeAvailability.runner.builds.length).toBe(
        fs.readdirSync(path.join(ROOT, "migrations")).filter((f) => /^\d{4}_.*\.sql$/.test(f)).length,
      );
      for (const phase of [result.writeAvailability.plain, result.writeAvailability.runner]) {
        expect(phase.writers.map((w) => w.table).sort()).toEqual(["analytics.contact_activity", "crm.contacts"]);
        expect(phase.writers.every((w) => w.inserts > 0 && w.errors === 0)).toBe(true);
      }
      const sources = new Map(result.indexSizes.map((i) => [i.index, i.source]));
      expect(sources.get("contacts_org_email_idx")).toBe("fixture");
      expect(sources.get("idx_contacts_custom_fields_gin")).toBe("notes");
      expect(sources.get("idx_contact_activity_created_at")).toBe("project");
      expect(result.indexSizes.every((i) => i.bytes > 0)).toBe(true);

      // the runner's target: met (it never blocks writers), and its verdict follows the measured stall
      const runner = result.targets.find((t) => t.target === RUNNER_TARGET)!;
      expect(result.writeAvailability.runner.maxStallMs).toBeLessThan(1000);
      expect(runner.ok).toBe(true);
      const { targets: _t, totalMs: _m, ...partial } = result;
      const stalled = structuredClone(partial);
      stalled.writeAvailability.runner.maxStallMs = 1500;
      expect(targetsOf(stalled).find((t) => t.target === RUNNER_TARGET)!.ok).toBe(false);
      stalled.writeAvailability.runner.maxStallMs = 999;
      expect(targetsOf(stalled).find((t) => t.target === RUNNER_TARGET)!.ok).toBe(true);

      // candidates: every alternative measured twice; the chosen ones are exactly those a migration builds
      expect(result.candidates.length).toBeGreaterThanOrEqual(10);
      for (const c of result.candidates) {
        expect(c.buffers, c.candidate).toBeGreaterThan(0);
        expect(c.afterWrites.buffers, c.candidate).toBeGreaterThan(0);
        expect(c.chosen, c.candidate).toBe(c.index !== undefined && MIGRATION_INDEXES.has(c.index));
      }
      expect(
        result.candidates
          .filter((c) => c.chosen)
          .map((c) => [c.query, c.index])
          .sort(),
      ).toEqual(
        [
          ["hourly-aggregation", "idx_contact_activity_created_at"],
          ["segment-members-containment", "idx_contacts_custom_fields_gin"],
          ["stale-execution-cleanup", "idx_journey_executions_active_started"],
        ].sort(),
      );
      // the table marks the same rows
      const section = r.stdout.slice(r.stdout.indexOf("candidates behind"), r.stdout.indexOf("\ntargets\n"));
      const chosenLines = section.split("\n").filter((l) => /\syes$/.test(l));
      expect(chosenLines).toHaveLength(3);
      expect(r.stdout).toMatch(/CANDIDATE\s+P50 MS\s+BUFFERS.*CHOSEN/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
