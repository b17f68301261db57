import type { Command } from "commander";
import * as fs from "node:fs";
import { loadStackConfigFromFile, PROJECT_DIR } from "../../config/load";
import { UsageError } from "../errors";
import { parseCount } from "../options";

const log = (line: string) => {
  if (line) process.stderr.write(`${line}\n`);
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

export function register(program: Command): void {
  const preview = program
    .command("preview")
    .description("Preview stacks pr-<N>: list, deploy, and remove the closed or stale ones (Pulumi Automation API)")
    .addHelpText(
      "after",
      `
The Pulumi CLI must be on PATH (or in $MAUNTIC_PULUMI_ROOT/bin) and logged in to the stacks' backend.
Exit codes: 0 ok, 1 failure (a refused budget, a failed destroy), 2 bad input.`,
    );

  preview
    .command("list")
    .description("Every pr-<N> stack with its pull request, last deploy and expiry (from the tags the deploy sets)")
    .option(
      "--json",
      "print JSON: [{stack, name, pr, lastDeploy, expiresAt, sha, resourceCount, updateInProgress, url}]",
    )
    .action(async (opts: { json?: boolean }) => {
      const { listPreviews, previewWorkspace } = await import("../../preview/stacks");
      const previews = await listPreviews(await previewWorkspace(PROJECT_DIR));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(previews, null, 2)}\n`);
        return;
      }
      if (previews.length === 0) {
        process.stdout.write("no preview stacks\n");
        return;
      }
      const rows = [["STACK", "PR", "LAST DEPLOY", "EXPIRES", "RESOURCES"]];
      for (const p of previews) {
        rows.push([p.name, `#${p.pr}`, p.lastDeploy ?? "-", p.expiresAt ?? "-", String(p.resourceCount)]);
      }
      process.stdout.write(table(rows));
    });

  preview
    .command("deploy")
    .description("Deploy pr-<N>: check the preview budget, tag the stack, then up with refresh")
    .requiredOption("--pr <number>", "the pull request number")
    .option("--sha <commit>", "the commit deployed (recorded in the mauntic:sha tag)")
    .option("--summary <file>", "also write the Markdown comment (hosts, expiry, budget) to this file")
    .option("--neon-branches-limit <n>", "branch allowance of the Neon plan, when Neon does not report it")
    .option("--policy-pack <dir>", "run this CrossGuard policy pack during the up (e.g. policies)")
    .option("--policy-pack-config <file>", "its config (e.g. policies/config/preview.json)")
    .option("--json", "print the result as JSON instead of Markdown")
    .addHelpText(
      "after",
      `
Refuses (exit 1, nothing created) when the preview would exceed the budget: Hyperdrive configs left in dev's
Cloudflare account, or Neon branches left in dev's project. Needs NEON_API_KEY and the providers' credentials.`,
    )
    .action(
      async (opts: {
        pr: string;
        sha?: string;
        summary?: string;
        neonBranchesLimit?: string;
        policyPack?: string;
        policyPackConfig?: string;
        json?: boolean;
      }) => {
        const pr = parseCount(opts.pr, "--pr", 1, 999_999);
        if (opts.policyPackConfig && !opts.policyPack) {
          throw new UsageError("--policy-pack-config needs --policy-pack");
        }
        if (opts.sha !== undefined && !/^[0-9a-f]{7,64}$/.test(opts.sha)) {
          throw new UsageError(`--sha '${opts.sha}' is not a commit (allowed: 7..64 lowercase hex digits)`);
        }
        const branchesLimit =
          opts.neonBranchesLimit === undefined
            ? undefined
            : parseCount(opts.neonBranchesLimit, "--neon-branches-limit", 1, 100_000);
        const { previewWorkspace } = await import("../../preview/stacks");
        const { deployPreview, renderDeploy } = await import("../../preview/deploy");
        const result = await deployPreview(await previewWorkspace(PROJECT_DIR), {
          pr,
          sha: opts.sha,
          neonBranchesLimit: branchesLimit,
          policyPack: opts.policyPack,
          policyPackConfig: opts.policyPackConfig,
          log,
        });
        const markdown = renderDeploy(result);
        if (opts.summary) fs.writeFileSync(opts.summary, markdown);
        process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : markdown);
      },
    );

  preview
    .command("gc")
    .description(
      "Destroy and remove the previews whose pull request is closed or whose last deploy is older than the TTL",
    )
    .requiredOption("--open <numbers|file>", "open pull requests: 12,15 or a file from 'gh pr list --json number'")
    .option(
      "--ttl-hours <hours>",
      "remove previews not deployed for this long (default: preview.branchTtlHours of dev)",
    )
    .option("--dry-run", "say what would be removed; change nothing")
    .option("--pr <number>", "decide about pr-<number> only (preview-gc.yml removes each one in its own lock)")
    .option("--json", "print [{stack, pr, reason, detail, outcome, error}]")
    .addHelpText(
      "after",
      `
Examples:
  gh pr list --state open --json number > open.json
  npm run infra -- preview gc --open open.json --dry-run
  npm run infra -- preview gc --open 12,15 --ttl-hours 48

Exit 1 when a destroy failed (the others still ran; rerun to retry it).`,
    )
    .action(async (opts: { open: string; ttlHours?: string; dryRun?: boolean; pr?: string; json?: boolean }) => {
      const { parseOpenPullRequests, decide, collect } = await import("../../preview/gc");
      const open = parseOpenPullRequests(opts.open);
      const only = opts.pr === undefined ? undefined : parseCount(opts.pr, "--pr", 1, 999_999);
      const ttlHours =
        opts.ttlHours === undefined
          ? loadStackConfigFromFile("dev").preview.branchTtlHours
          : parseCount(opts.ttlHours, "--ttl-hours", 1, 8760);
      const { listPreviews, previewWorkspace } = await import("../../preview/stacks");
      const ws = await previewWorkspace(PROJECT_DIR);
      const previews = (await listPreviews(ws)).filter((p) => only === undefined || p.pr === only);
      const decisions = decide(previews, open, ttlHours, new Date());
      const results = await collect(ws, decisions, { dryRun: opts.dryRun === true, log });
      if (opts.json) {
        const rows = results.map((r) => ({
          stack: r.decision.preview.stack,
          pr: r.decision.preview.pr,
          reason: r.decision.reason ?? null,
          detail: r.decision.detail,
          outcome: r.outcome,
          ...(r.error ? { error: r.error } : {}),
        }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else if (results.length === 0) {
        process.stdout.write("no preview stacks\n");
      } else {
        const rows = [["STACK", "OUTCOME", "WHY"]];
        for (const r of results) {
          rows.push([
            r.decision.preview.name,
            r.outcome,
            r.error ? `${r.decision.detail}: ${r.error}` : r.decision.detail,
          ]);
        }
        process.stdout.write(table(rows));
      }
      if (results.some((r) => r.outcome === "failed")) process.exitCode = 1;
    });
}
