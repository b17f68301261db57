/**
 * `npm start` end to end through the CLI: the offline plan of dev, then embedded PostgreSQL with the fixture, data
 * seeded at scale 0.05, the migrations through the runner and the explain check, in one summary.
 */
import { describe, expect, it } from "vitest";
import { KEY_QUERIES } from "../migrations/queries/catalog";
import { runCli } from "./helpers/cli";

describe("rehearse (npm start)", () => {
  it("plans, migrates and checks every key query on embedded PostgreSQL, then exits 0", async () => {
    const r = await runCli(["rehearse", "--no-deploy"]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const out = r.stdout;
    // the plan part, as before
    expect(out).toMatch(/== plan: stack dev, offline/);
    expect(out).toMatch(/stack dev: \d+ resources to create/);
    // the database part, in order
    expect(out).toMatch(/fixture: 5 schemas, \d+ tables, \d+ indexes/);
    expect(out).toMatch(/seed: scale 0.05, \d+ rows \(50 organizations, 50000 contacts\)/);
    expect(out).toMatch(/0006\s+contact_activity_created_at\s+applied/);
    expect(out).toMatch(/0007\s+journey_executions_active_started\s+applied/);
    // worker roles made as the program makes them, on Neon's role model (migrations/neon-emulation.ts)
    expect(out).toMatch(
      /^access: 5 worker roles made with SQL, none in neon_superuser, each with exactly its declared schemas$/m,
    );
    for (const q of KEY_QUERIES) {
      expect(out).toMatch(new RegExp(`^${q.name}\\s+${q.rewrite ? "REWRITE" : "ok"}\\s`, "m"));
    }
    // the Redis part: the Fly machine's config on redis-server, BullMQ jobs through kill -9 and restart
    expect(out).toMatch(
      /redis: redis-server [\d.]+ with the Fly machine's config: maxmemory-policy noeviction, appendonly yes, appendfsync everysec/,
    );
    expect(out).toMatch(/redis: BullMQ jobs added \d+, processed \d+, lost after kill -9 and restart 0 /);
    // it ends with the monitor's report on its own database: each worker role holds one real connection
    // (dev: crm's capacity is Hyperdrive 10 + crm-import's pool 10 through the pooler = 20, so 1 is 5 %)
    const monitor = out.slice(out.indexOf("== monitor: the rehearsal's own database"));
    expect(out.indexOf("== redis")).toBeLessThan(out.indexOf("== monitor"));
    expect(monitor).toMatch(/^No findings\.$/m);
    expect(monitor).toMatch(/### Pool utilization \(pg_stat_activity by role\): ok/);
    expect(monitor).toMatch(
      /\| ✓ \| crm on the primary \| pool utilization \| 5 % \| ≤ 80 % \| 1 of 20 connections of mauntic_dev_crm \(0 active, 0 idle in transaction, 1 idle\)/,
    );
    // the live services are not configured without credentials, and say so (not failures)
    for (const title of [
      "Hyperdrive latency and failures",
      "Neon autoscaling headroom",
      "Redis memory",
      "Fly volumes",
    ]) {
      expect(monitor).toMatch(new RegExp(`### ${title}[^\n]*: not configured\n\nno `));
    }
    // the real deploy is its own part (test/engine-stacks.test.ts runs it with the engine); here it says it was skipped
    expect(out).toMatch(/== deploy: dev with the real Pulumi engine[^\n]*\nskipped: --no-deploy\n/);
    expect(out).toMatch(/== rehearsal ok in [\d.]+m?s/);
    expect(out.indexOf("== plan")).toBeLessThan(out.indexOf("== database"));
    // progress went to stderr, not into the summary
    expect(r.stderr).toMatch(/seed \[2\/10\] crm.contacts/);
    expect(out).not.toMatch(/seed \[2\/10\]/);
  }, 180_000); // three parts (plan, database, Redis) on a shared 2-core machine

  it("exits 2 on a bad scale before starting anything", async () => {
    const r = await runCli(["rehearse", "--scale", "lots"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--scale 'lots' is not a scale/);
  });
});
