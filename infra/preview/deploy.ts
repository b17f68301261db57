/**
 * `preview deploy`: check the budget, tag the stack (pull request, deploy time, expiry, commit), then `up` with
 * refresh, since the preview's Neon branch may have expired since the last deploy and refresh is how the engine
 * learns it is gone (the provider's `read`). Returns what the pull request comment shows.
 */
import type { LocalWorkspace, OutputMap } from "@pulumi/pulumi/automation";
import { loadStackConfigFromFile, PROJECT_DIR } from "../config/load";
import { branchExpiry } from "../neon/component";
import { neonClient } from "../neon/client";
import { parseStackName } from "../naming";
import { BudgetError, hyperdriveLine, neonLine, verdict, type PreviewBudget } from "./budget";
import { listPreviews, TAGS } from "./stacks";

export interface DeployOptions {
  pr: number;
  sha?: string;
  /** Overrides Neon's reported branch allowance. */
  neonBranchesLimit?: number;
  /** A CrossGuard pack folder (and its config file) the up runs with. */
  policyPack?: string;
  policyPackConfig?: string;
  projectDir?: string;
  now?: Date;
  log: (line: string) => void;
}

export interface DeployResult {
  stack: string;
  pr: number;
  deployedAt: string;
  expiresAt: string;
  budget: PreviewBudget;
  hosts: Record<string, string>;
  outputs: Record<string, unknown>;
}

function plain(outputs: OutputMap): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}

/** The parent stack's Neon project (preview branches fork it), from its stack outputs. */
async function parentProjectId(ws: LocalWorkspace, parentStack: string): Promise<string> {
  const outs = await ws.stackOutputs(parentStack);
  const id = outs.neonProjectId?.value;
  if (typeof id !== "string" || !id) {
    throw new Error(`${parentStack} has no neonProjectId output: deploy it before any preview`);
  }
  return id;
}

export async function deployPreview(ws: LocalWorkspace, opts: DeployOptions): Promise<DeployResult> {
  const stack = `pr-${opts.pr}`;
  parseStackName(stack);
  const projectDir = opts.projectDir ?? PROJECT_DIR;
  const config = loadStackConfigFromFile(stack, { projectDir });
  const previews = await listPreviews(ws);
  const existing = previews.find((p) => p.stack === stack);

  const hyperdrive = hyperdriveLine(stack, config, previews);
  const projectId = await parentProjectId(ws, config.preview.parentStack);
  const existingBranchId =
    existing && existing.resourceCount > 0 ? (await ws.stackOutputs(existing.name)).neonBranchId?.value : undefined;
  const neon = await neonLine(neonClient(), projectId, {
    existingBranchId: typeof existingBranchId === "string" ? existingBranchId : undefined,
    branchesLimit: opts.neonBranchesLimit,
  });
  const budget = verdict(stack, hyperdrive, neon);
  if (!budget.fits) throw new BudgetError(budget);

  const { Stack } = await import("@pulumi/pulumi/automation");
  // A new stack goes to the organization the parent stack lives in (`mauntic/mauntic-infra/dev` -> `mauntic/pr-<N>`).
  const name = existing?.name ?? `${config.preview.parentStack.split("/")[0]}/${stack}`;
  const s = await Stack.createOrSelect(name, ws);
  const now = opts.now ?? new Date();
  const deployedAt = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  // The same expiry the program gives the Neon branch (capped at Neon's 30 days).
  const expiresAt = branchExpiry(config.preview.branchTtlHours, now);
  // Tags first: a deploy that fails half-way is still dated, so gc can find and remove it.
  await ws.setTag(name, TAGS.pr, String(opts.pr));
  await ws.setTag(name, TAGS.deployedAt, deployedAt);
  await ws.setTag(name, TAGS.expiresAt, expiresAt);
  if (opts.sha) await ws.setTag(name, TAGS.sha, opts.sha);

  const up = await s.up({
    refresh: true,
    ...(opts.policyPack ? { policyPacks: [opts.policyPack] } : {}),
    ...(opts.policyPackConfig ? { policyPackConfigs: [opts.policyPackConfig] } : {}),
    onOutput: (o) => opts.log(o.trimEnd()),
  });
  const outputs = plain(up.outputs);
  return { stack, pr: opts.pr, deployedAt, expiresAt, budget, hosts: previewHosts(config, outputs), outputs };
}

/** What a reviewer opens: the preview's hostnames (the config's, prefixed `pr-<N>-`) and its database hosts. */
export function previewHosts(
  config: ReturnType<typeof loadStackConfigFromFile>,
  outputs: Record<string, unknown>,
): Record<string, string> {
  const hosts: Record<string, string> = {};
  for (const [kind, host] of Object.entries(config.cloudflare.hosts)) hosts[kind] = `https://${host}`;
  if (typeof outputs.databasePooledHost === "string") hosts["database (pooled)"] = outputs.databasePooledHost;
  if (typeof outputs.databaseDirectHost === "string") hosts["database (direct)"] = outputs.databaseDirectHost;
  return hosts;
}

/** The pull request comment: hosts, expiry and budget, as Markdown (the workflow adds its comment marker). */
export function renderDeploy(r: DeployResult): string {
  const line = (l: PreviewBudget["hyperdrive"]) => `| ${l.what} | ${l.needs} | ${l.used} | ${l.left} of ${l.limit} |`;
  return [
    `### Preview \`${r.stack}\` deployed`,
    "",
    `Deployed ${r.deployedAt}; its Neon branch expires ${r.expiresAt} unless deployed again.`,
    "",
    "| | host |",
    "|---|---|",
    ...Object.entries(r.hosts).map(([k, v]) => `| ${k} | \`${v}\` |`),
    "",
    "| budget | this preview needs | used | left |",
    "|---|---|---|---|",
    line(r.budget.hyperdrive),
    line(r.budget.neon),
    "",
  ].join("\n");
}
