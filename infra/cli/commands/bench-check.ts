import type { Command } from "commander";
import { renderCheckBench, runCheckBench, writeCheckBench } from "../../../bench/check";
import { RESULTS_DIR } from "../../../bench/indexes";
import { parseCount } from "../options";

export function register(program: Command): void {
  program
    .command("bench-check")
    .description(
      "Benchmark `check` as a pull request runs it: wall time and its split (plans, policies, squawk, database)",
    )
    .option("--runs <n>", "fresh `check` processes to time", "3")
    .option("--results-dir <path>", "where check-latest.json goes", RESULTS_DIR)
    .addHelpText(
      "after",
      `
Target: a median of at most 30 s per check on this machine (reported, not enforced).
Exit codes: 0 measured, 1 the benchmark failed, 2 bad input.`,
    )
    .action(async (opts: { runs: string; resultsDir: string }) => {
      const b = await runCheckBench({
        runs: parseCount(opts.runs, "--runs", 1, 20),
        log: (l) => process.stderr.write(`${l}\n`),
      });
      const file = writeCheckBench(b, opts.resultsDir);
      process.stdout.write(`${renderCheckBench(b)}results: ${file}\n`);
    });
}
