import { Option, type Command } from "commander";
import { checkDatabaseUrl, describeUrl, openClient } from "../../../migrations/runner/connect";
import { KEY_QUERIES } from "../../../migrations/queries/catalog";
import { renderCheck, runCheck } from "../../../migrations/queries/explain";
import { UsageError } from "../errors";

export function register(program: Command): void {
  program
    .command("explain")
    .description("Check that the indexes serve the platform's key queries: EXPLAIN (ANALYZE, BUFFERS) each one")
    .addOption(new Option("--database-url <url>", "a seeded database (or a real one, read-only)").env("DATABASE_URL"))
    .option("--json", "print the report as JSON, plans included")
    .option("--query <name...>", `only these catalog queries (${KEY_QUERIES.map((q) => q.name).join(", ")})`)
    .addHelpText(
      "after",
      `
Parameters come from the data: the largest organization by contacts, the newest activity as the clock.
A query fails when the index meant to serve it is not in its plan or the plan seq-scans a table of > 10,000 rows.
The notes' \`->>\` segment query is judged on its plan: while no index serves \`->>\` it is reported (REWRITE)
beside its containment form, and it fails the check if that form is not index-served either.
Exit codes: 0 every key query is index-served, 1 some are not (or the database failed), 2 bad input.`,
    )
    .action(async (opts: { databaseUrl?: string; json?: boolean; query?: string[] }) => {
      const unknown = (opts.query ?? []).filter((n) => !KEY_QUERIES.some((q) => q.name === n));
      if (unknown.length) {
        throw new UsageError(
          `--query ${unknown.join(", ")}: no such key query (allowed: ${KEY_QUERIES.map((q) => q.name).join(", ")})`,
        );
      }
      const url = checkDatabaseUrl(opts.databaseUrl);
      const db = await openClient(opts.databaseUrl!, "mauntic-explain");
      try {
        // EXPLAIN ANALYZE executes the queries: all of them are reads, and a read-only transaction guarantees it
        await db.query("BEGIN READ ONLY");
        const report = await runCheck(db, { only: opts.query });
        await db.query("ROLLBACK");
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ database: describeUrl(url), ...report }, null, 2)}\n`
            : `explain check on ${describeUrl(url)}\n${renderCheck(report)}`,
        );
        if (!report.ok) process.exitCode = 1;
      } finally {
        await db.end().catch(() => undefined);
      }
    });
}
