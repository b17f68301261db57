/**
 * `preview deploy`: check the budget, preview with the policy pack (the gate), tag the stack (pull request, deploy
 * time, expiry, commit), then `up` with refresh, since the preview's Neon branch may have expired since the last
 * deploy and refresh is how the engine learns it is gone (the provider's `read`). Returns what the pull request
 * comment shows.
 *
 * Why a preview first: the Automation API's `up` runs `pulumi up --yes --skip-preview` (pulumi v3.248.0
 * sdk/nodejs/automation/stack.ts), and stack policies run only after every step was applied
 * (pkg/resource/deploy/deployment_executor.go calls stepGen.AnalyzeResources after the step executor finished).
 * `pulumi preview --policy-pack` runs every policy before anything changes and exits non-zero on a mandatory
 * finding, which the Automation API throws: the up never starts.
 */
import * as path from "node:path";
import type { LocalWorkspace, OutputMap } from "@pulumi/pulumi/automation";
import { loadStackConfigFromFile, PROJECT_DIR } from "../config/load";
import { branchExpiry } from "../neon/component";
import { neonClient } from "../neon/client";
import { parseStackName } from "../naming";
import { firstLine } from "./gc";
import { BudgetError, hyperdriveLine, neonLine, verdict, type PreviewBudget } from "./budget";
import { listPreviews, TAGS } from "./stacks";

export interface DeployOptions {
  pr: number;
  sha?: string;
  /** Overrides Neon's reported branch allowance. */
  neonBranchesLimit?: number;
  /**
   * The CrossGuard pack folder and its config file the gate (and the up) run with: `policies` and
   * `policies/config/preview.json` of the project when not given. There is no way to deploy without the gate.
   */
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
  const policies = {
    policyPacks: [opts.policyPack ?? path.join(projectDir, "policies")],
    policyPackConfigs: [
      opts.policyPackConfig ??
        (opts.policyPack ? undefined : path.join(projectDir, "policies", "config", "preview.json")),
    ].filter((c): c is string => !!c),
  };
  // The gate: a mandatory finding fails the preview (PolicyGateError) before any tag or resource changes.
  try {
    await s.preview({ refresh: true, ...policies, onOutput: (o) => opts.log(o.trimEnd()) });
  } catch (e) {
    throw new PolicyGateError(stack, e);
  }
  const now = opts.now ?? new Date();
  const deployedAt = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  // The same expiry the program gives the Neon branch (capped at Neon's 30 days).
  const expiresAt = branchExpiry(config.preview.branchTtlHours, now);
  // Tags first: a deploy that fails half-way is still dated, so gc can find and remove it.
  await ws.setTag(name, TAGS.pr, String(opts.pr));
  await ws.setTag(name, TAGS.deployedAt, deployedAt);
  await ws.setTag(name, TAGS.expiresAt, expiresAt);
  if (opts.sha) await ws.setTag(name, TAGS.sha, opts.sha);

  const up = await s.up({ refresh: true, ...policies, onOutput: (o) => opts.log(o.trimEnd()) });
  const outputs = plain(up.outputs);
  return { stack, pr: opts.pr, deployedAt, expiresAt, budget, hosts: previewHosts(config, outputs), outputs };
}

/** The policy preview before the up failed: nothing was changed. Its message carries the CLI's own error lines. */
export class PolicyGateError extends Error {
  constructor(
    readonly stackName: string,
    override readonly cause: unknown,
  ) {
    // The Automation API's exec (automation/cmd.js) rethrows execa's failure with stdout empty and the CLI's whole
    // output in stderr (execa's message): read both.
    const r = (cause as { commandResult?: { stdout?: string; stderr?: string } }).commandResult;
    const findings = mandatoryFindings(`${r?.stdout ?? ""}\n${r?.stderr ?? ""}`);
    super(
      `${stackName}: the policy preview failed, nothing was deployed: ${firstLine(cause)}` +
        (findings.length ? `\n${findings.join("\n")}` : ""),
    );
  }
}

/**
 * The mandatory findings of a preview's "Policies:" section: each `[mandatory]  <policy>  (<resource>)` line with
 * the message line under it (pulumi v3.248.0 pkg/backend/display/diff.go renders one per violation: `[<level>]  <policy>  (<type>: <name>)`, then its message).
 */
export function mandatoryFindings(stdout: string): string[] {
  const lines = stdout.split("\n");
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (!l.includes("[mandatory]")) return;
    const next = lines.slice(i + 1).find((x) => x.trim());
    out.push(`${l.trim()}${next && !next.includes("[") ? ` ${next.trim()}` : ""}`);
  });
  return out;
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
