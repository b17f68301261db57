import type { Command } from "commander";
import { renderBench, RESULTS_DIR, runBench, writeResult } from "../../../bench/indexes";
import { parseCount } from "../options";
import { parseScale } from "./seed-data";

export function register(program: Command): void {
  program
    .command("bench")
    .description(
      "Benchmark the key queries on embedded PostgreSQL with seeded data: fixture vs notes' vs project indexes, write availability while indexes build, index sizes",
    )
    .option("--scale <s>", "seed-data scale (1 = 1M contacts, 5M activity rows; ~10 min on 2 cores)", "1")
    .option("--runs <n>", "timed runs per query and index set, at most", "50")
    .option("--budget-ms <ms>", "stop timing a query after this long once it has 5 runs", "5000")
    .option("--writer-interval-ms <ms>", "each writer inserts once per this many ms", "10")
    .option("--no-candidates", "skip measuring the candidate indexes behind the project's choices")
    .option("--results-dir <path>", "where the JSON goes", RESULTS_DIR)
    .addHelpText(
      "after",
      `
Prints the tables and writes them as JSON to --results-dir (default bench/results/, git-ignored;
indexes-latest.json is the last run).
Exit codes: 0 measured (targets are reported, not enforced), 1 the benchmark failed, 2 bad input.`,
    )
    .action(
      async (opts: {
        scale: string;
        runs: string;
        budgetMs: string;
        writerIntervalMs: string;
        candidates: boolean;
        resultsDir: string;
      }) => {
        const result = await runBench({
          scale: parseScale(opts.scale),
          maxRuns: parseCount(opts.runs, "--runs", 5, 10_000),
          budgetMs: parseCount(opts.budgetMs, "--budget-ms", 0, 600_000),
          writerIntervalMs: parseCount(opts.writerIntervalMs, "--writer-interval-ms", 1, 10_000),
          candidates: opts.candidates,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const file = writeResult(result, opts.resultsDir);
        process.stdout.write(`${renderBench(result)}results: ${file}\n`);
      },
    );
}
