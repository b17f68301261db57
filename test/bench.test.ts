/**
 * The benchmark's measuring parts (never its speed): writers count a blocked insert's whole wait from its
 * scheduled time, and the bench command runs end to end at a tiny scale, writing the JSON the README table
 * comes from.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BenchResult } from "../bench/indexes";
import { percentile, startWriters } from "../bench/writers";
import { KEY_QUERIES } from "../migrations/queries/catalog";
import { runCli } from "./helpers/cli";
import { fixtureDb, withClient } from "./helpers/db";
import { usePostgres } from "../migrations/embedded";

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
      expect(contacts.inserts).toBeGreaterThan(100);
      // the other table was never blocked
      expect(activity.maxMs).toBeLessThan(contacts.maxMs);
      const rows = await locker.query("SELECT count(*)::int AS n FROM crm.contacts");
      expect(rows.rows[0].n).toBe(contacts.inserts);
    });
  });
});

describe("bench command", () => {
  it("measures the three index sets, write availability and index sizes, and writes JSON", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-bench-"));
    try {
      const r = await runCli([
        "bench",
        "--scale",
        "0.005",
        "--runs",
        "5",
        "--budget-ms",
        "0",
        "--no-candidates",
        "--results-dir",
        dir,
      ]);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stdout).toMatch(
        /QUERY\s+\(a\) FIXTURE\s+\(b\) \+ NOTES\s+\(c\) \+ PROJECT\s+\(a\)\/\(c\)\s+\(b\)\/\(c\)/,
      );
      expect(r.stdout).toMatch(/plain \/ runner: longest stall [\d.]+x, write p99 [\d.]+x/);
      const result = JSON.parse(fs.readFileSync(path.join(dir, "indexes-latest.json"), "utf8")) as BenchResult;
      for (const config of ["fixture", "notes", "project"] as const) {
        expect(result.configs[config].map((q) => q.name)).toEqual(KEY_QUERIES.map((q) => q.name));
        for (const q of result.configs[config]) expect(q.runs).toBe(5);
      }
      expect(result.table).toHaveLength(KEY_QUERIES.length);
      expect(result.configs.project.find((q) => q.name === "hourly-aggregation")!.indexes).toContain(
        "idx_contact_activity_created_at",
      );
      // the fixture alone seq-scans activity; the notes' set does too
      expect(result.configs.fixture.find((q) => q.name === "hourly-aggregation")!.verdict).toBe("not-index-served");
      expect(result.configs.notes.find((q) => q.name === "hourly-aggregation")!.verdict).toBe("not-index-served");
      expect(result.writeAvailability.plain.builds).toHaveLength(5);
      expect(result.writeAvailability.runner.builds.length).toBeGreaterThanOrEqual(7);
      for (const phase of [result.writeAvailability.plain, result.writeAvailability.runner]) {
        expect(phase.writers.map((w) => w.table).sort()).toEqual(["analytics.contact_activity", "crm.contacts"]);
        expect(phase.writers.every((w) => w.inserts > 0 && w.errors === 0)).toBe(true);
      }
      const sources = new Map(result.indexSizes.map((i) => [i.index, i.source]));
      expect(sources.get("contacts_org_email_idx")).toBe("fixture");
      expect(sources.get("idx_contacts_custom_fields_gin")).toBe("notes");
      expect(sources.get("idx_contact_activity_created_at")).toBe("project");
      expect(result.indexSizes.every((i) => i.bytes > 0)).toBe(true);
      expect(result.targets.map((t) => t.target)).toContain(
        "through the runner, no write waits > 1 s while indexes build",
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
