import type { Command } from "commander";
import { runOffline } from "../../offline/engine";
import { renderTree } from "../render";

/**
 * The main job on the embedded default (`npm start`): everything that runs with no credentials, end to end.
 */
export function register(program: Command): void {
  program
    .command("rehearse")
    .description("Rehearse a deploy with no credentials: the offline plan of a stack (default dev)")
    .option("-s, --stack <name>", "stack to rehearse", "dev")
    .action(async (opts: { stack: string }) => {
      const plan = await runOffline(opts.stack);
      process.stdout.write(renderTree(plan));
    });
}
