import { Option, type Command } from "commander";
import { loadFixture } from "../../../migrations/fixture/load";

export function register(program: Command): void {
  program
    .command("fixture")
    .description("Load the platform's app schema (tables + existing indexes) into an EMPTY database, for tests")
    .addOption(new Option("--database-url <url>", "an empty database").env("DATABASE_URL"))
    .addHelpText(
      "after",
      `
Refuses a database that already has any of the platform's schemas: it is never for a real environment.
Exit codes: 0 loaded, 1 the load failed, 2 the database is not empty or the URL is bad.`,
    )
    .action(async (opts: { databaseUrl?: string }) => {
      const r = await loadFixture(opts.databaseUrl);
      process.stdout.write(
        `fixture loaded into ${r.database}: schemas ${r.schemas.join(", ")}, ${r.tables} tables, ${r.indexes} indexes\n`,
      );
    });
}
