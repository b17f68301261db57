import type { Command } from "commander";
import { renderTree } from "../render";

export function register(program: Command): void {
  program
    .command("plan")
    .description("Run the Pulumi program offline (mocks, no credentials) and print what the stack declares")
    .requiredOption("-s, --stack <name>", "stack: dev, prod or pr-<N>")
    .option("-c, --config-file <path>", "evaluate this stack file instead of the committed Pulumi.<stack>.yaml")
    .option("--json", "print the plan as JSON: {stack, resources, outputs, depth, violations}")
    .option(
      "--preview",
      "judge the policies as `pulumi preview` of a change hands them the resources: outputs are inputs, hosts and ids unknown",
    )
    .addHelpText(
      "after",
      `
Examples:
  npm run infra -- plan --stack dev
  npm run infra -- plan --stack pr-42 --json
  npm run infra -- plan --stack dev --config-file ./my-dev.yaml
  npm run infra -- plan --stack prod --config-file ./smaller-prod.yaml --preview

Exit codes: 0 planned, 1 the program failed, 2 invalid config (every problem listed on stderr).`,
    )
    .action(async (opts: { stack: string; configFile?: string; json?: boolean; preview?: boolean }) => {
      // Loaded on use: the Pulumi SDK takes a second to load and `--help` needs none of it.
      const { runOffline } = await import("../../offline/engine");
      const plan = await runOffline(opts.stack, { configFile: opts.configFile, preview: opts.preview === true });
      process.stdout.write(opts.json ? `${JSON.stringify(plan, null, 2)}\n` : renderTree(plan));
      if (plan.violations.some((v) => v.enforcement === "mandatory")) process.exitCode = 1;
    });
}
