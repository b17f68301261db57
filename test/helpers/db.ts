/**
 * Probes the migration suites share: a fresh fixture database, a function run on a fresh connection, the ledger
 * and INVALID indexes.
 */
import { Client } from "pg";
import type { PgServer } from "../../migrations/embedded";
import { loadFixture } from "../../migrations/fixture/load";

/** A new database on `pg` with the app-schema fixture loaded; returns its URL. */
export async function fixtureDb(pg: PgServer): Promise<string> {
  const url = await pg.newDatabase();
  await loadFixture(url);
  return url;
}

export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Versions recorded in the runner's ledger, ascending. */
export const ledgerVersions = (url: string): Promise<number[]> =>
  withClient(url, async (c) =>
    (await c.query<{ version: number }>("SELECT version FROM mauntic_migrations.ledger ORDER BY 1")).rows.map(
      (r) => r.version,
    ),
  );

/** Indexes PostgreSQL marks INVALID (what a failed CREATE INDEX CONCURRENTLY leaves). */
export const invalidIndexes = (url: string): Promise<string[]> =>
  withClient(url, async (c) =>
    (
      await c.query<{ name: string }>(
        "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid ORDER BY 1",
      )
    ).rows.map((r) => r.name),
  );
