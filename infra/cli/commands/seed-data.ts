import { Option, type Command } from "commander";
import { checkDatabaseUrl, describeUrl, openClient } from "../../../migrations/runner/connect";
import { SCALE_MAX, SCALE_MIN, SeedError, seedData, seedStepLine } from "../../../migrations/queries/seed";
import { UsageError } from "../errors";

export function parseScale(text: string): number {
  const scale = Number(text);
  if (!/^\d*\.?\d+$/.test(text.trim()) || !(scale >= SCALE_MIN && scale <= SCALE_MAX)) {
    throw new UsageError(
      `--scale '${text}' is not a scale (allowed: a number from ${SCALE_MIN} to ${SCALE_MAX}; 1 = 1,000,000 contacts, 0.05 for tests)`,
    );
  }
  return scale;
}

export function register(program: Command): void {
  program
    .command("seed-data")
    .description("Fill the app-schema fixture with skewed, realistic data generated inside PostgreSQL")
    .addOption(new Option("--database-url <url>", "a database with the fixture loaded and empty").env("DATABASE_URL"))
    .option("--scale <s>", "1 = ~1,000 organizations, 1M contacts, 5M activity rows, 2M delivery events", "0.05")
    .addHelpText(
      "after",
      `
Examples:
  npm run infra -- fixture --database-url postgres://postgres:pw@127.0.0.1:5432/scratch
  npm run infra -- seed-data --database-url postgres://postgres:pw@127.0.0.1:5432/scratch --scale 0.05

The same scale always yields the same rows (values derive from hashes of row numbers, not random()).
Exit codes: 0 seeded, 1 a statement failed, 2 bad input (scale, URL, fixture missing or tables not empty).`,
    )
    .action(async (opts: { databaseUrl?: string; scale: string }) => {
      const scale = parseScale(opts.scale);
      const url = checkDatabaseUrl(opts.databaseUrl);
      const db = await openClient(opts.databaseUrl!, "mauntic-seed-data");
      try {
        const r = await seedData(db, scale, (s, i, n) => process.stderr.write(`${seedStepLine(s, i, n)}\n`));
        const rows = r.steps.reduce((a, s) => a + s.rows, 0);
        process.stdout.write(
          `seeded ${describeUrl(url)} at scale ${scale}: ${rows} rows in ${(r.ms / 1000).toFixed(1)}s (${r.sizes.organizations} organizations, ${r.sizes.contacts} contacts)\n`,
        );
      } catch (e) {
        // a missing fixture or filled tables is the user's to fix, not a failure of the seed
        if (e instanceof SeedError && e.input) throw new UsageError(e.message);
        throw e;
      } finally {
        await db.end().catch(() => undefined);
      }
    });
}
