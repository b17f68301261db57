import type { Command } from "commander";
import { loadStackConfigFromFile } from "../../config/load";
import { parseStackName } from "../../naming";
import { UsageError } from "../errors";

export function register(program: Command): void {
  program
    .command("monitor")
    .description(
      "Read a stack's live figures (pool utilization per worker, Hyperdrive latency and failures, Neon autoscaling headroom, Redis memory, Fly volumes) and judge them against the stack's monitoring thresholds",
    )
    .requiredOption("-s, --stack <name>", "stack to monitor (dev, prod)")
    .option("-c, --config-file <path>", "read this stack file instead of the committed Pulumi.<stack>.yaml")
    .option(
      "--pulumi-stack <name>",
      "the Pulumi stack whose secrets and outputs complete the environment (default: --stack)",
    )
    .option("--json", "print the report as JSON: {stack, at, findings, signals: [{signal, status, reason, figures}]}")
    .addHelpText(
      "after",
      `
Credentials and addresses, each from the environment, else from the stack (Pulumi CLI on PATH, logged in):
  MONITOR_DATABASE_URL, MONITOR_REPLICA_DATABASE_URL   else outputs databaseDirectUri, databaseReplicaUri
  NEON_API_KEY (NEON_PROJECT_ID)                      else secret mauntic-infra:neonApiKey (output neonProjectId)
  CLOUDFLARE_API_TOKEN                                else secret cloudflare:apiToken
  FLY_API_TOKEN                                       else secret mauntic-infra:flyApiToken
  MONITOR_REDIS_URLS (each data node's URL)           else REDIS_SENTINELS + REDIS_PASSWORD, or REDIS_URL, as the
                                                      workers get them, else output flyRedisUrl (Fly's private
                                                      network; a Sentinel group's needs REDIS_PASSWORD)
A signal without its credentials is reported "not configured" (not a finding); a service that does not answer is a
finding named after it.

Exit codes: 0 no finding, 1 one or more findings (a figure past its threshold, or an unreachable service), 2 bad input.`,
    )
    .action(async (opts: { stack: string; configFile?: string; pulumiStack?: string; json?: boolean }) => {
      parseStackName(opts.stack);
      const config = loadStackConfigFromFile(opts.stack, { configFile: opts.configFile });
      const { monitorTargets, pulumiStackReader } = await import("../../monitor/targets");
      const { renderMarkdown, runMonitor } = await import("../../monitor/run");
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const env = process.env;
      // The stack is asked only for what the environment lacks.
      const complete =
        env.MONITOR_DATABASE_URL &&
        env.NEON_API_KEY &&
        env.CLOUDFLARE_API_TOKEN &&
        env.FLY_API_TOKEN &&
        (env.MONITOR_REDIS_URLS || env.REDIS_SENTINELS || env.REDIS_URL);
      const reader = complete ? undefined : await pulumiStackReader(opts.pulumiStack ?? opts.stack, log);
      // What the environment names badly (a Sentinel list, a node URL) is input the user fixes: exit 2.
      const targets = await monitorTargets(env, reader).catch((e: Error) => {
        throw new UsageError(e.message);
      });
      const report = await runMonitor(opts.stack, config, targets);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderMarkdown(report));
      if (report.findings > 0) process.exitCode = 1;
    });
}
