#!/usr/bin/env node
/**
 * The `mauntic-infra` command: `npm run infra -- <command> --help`. Each command lives in ./commands and registers
 * itself here; exit codes are shared: 0 ok, 1 failure, 2 bad input (config, arguments).
 */
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/errors";
import { register as registerBench } from "./commands/bench";
import { register as registerBenchCheck } from "./commands/bench-check";
import { register as registerBindings } from "./commands/bindings";
import { register as registerCheck } from "./commands/check";
import { register as registerExplain } from "./commands/explain";
import { register as registerFixture } from "./commands/fixture";
import { register as registerMigrate } from "./commands/migrate";
import { register as registerMonitor } from "./commands/monitor";
import { register as registerPlan } from "./commands/plan";
import { register as registerPreview } from "./commands/preview";
import { register as registerR2Empty } from "./commands/r2-empty";
import { register as registerRulesetImport } from "./commands/ruleset-import";
import { register as registerRehearse } from "./commands/rehearse";
import { register as registerSeedData } from "./commands/seed-data";
import { NameError, StackNameError } from "../naming";
import { InputError } from "../../migrations/runner/errors";
import { UsageError } from "./errors";

export function buildCli(): Command {
  const program = new Command("mauntic-infra")
    .description("Plan, migrate and check the Mauntic3 platform's infrastructure")
    .showHelpAfterError()
    .exitOverride();
  registerPlan(program);
  registerRehearse(program);
  registerCheck(program);
  registerBindings(program);
  registerMigrate(program);
  registerFixture(program);
  registerSeedData(program);
  registerExplain(program);
  registerBench(program);
  registerPreview(program);
  registerR2Empty(program);
  registerRulesetImport(program);
  registerBenchCheck(program);
  registerMonitor(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    // Input the user can fix (bad options, a pooler URL, an invalid name): exit 2 with the one-line reason.
    if (e instanceof UsageError || e instanceof InputError || e instanceof StackNameError || e instanceof NameError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
    if (process.env.MAUNTIC_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  // Exit once stdout and stderr are flushed: a plan's JSON is larger than a pipe's buffer, and process.exit() would
  // cut it at 64 KiB when the reader is slower than the writer.
  const exit = (code: number) => process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
  main(process.argv.slice(2)).then(exit, (e) => {
    process.stderr.write(`error: ${String(e)}\n`);
    exit(1);
  });
}
