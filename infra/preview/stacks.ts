/**
 * Preview stacks `pr-<N>` as the Pulumi backend knows them, over the Automation API (`LocalWorkspace`). The
 * deploy records who and when in stack tags, so `list` and `gc` need nothing but the backend: no GitHub token.
 */
import type { LocalWorkspace, StackSummary } from "@pulumi/pulumi/automation";
import { parseStackName, STACK_NAME } from "../naming";

/** Stack tags the deploy sets. Pulumi allows tag names of `[a-zA-Z0-9-_.:]{1,40}` and values up to 256 characters
 * (pulumi/pulumi `ValidateStackTags`). */
export const TAGS = {
  pr: "mauntic:pr",
  deployedAt: "mauntic:deployed-at",
  expiresAt: "mauntic:expires-at",
  sha: "mauntic:sha",
} as const;

/** Where the Pulumi CLI lives when it is not on PATH: a folder holding `bin/pulumi` (the tests' fake). */
export const PULUMI_ROOT_ENV = "MAUNTIC_PULUMI_ROOT";

export interface PreviewStack {
  /** `pr-<N>`. */
  stack: string;
  /** The name as the backend lists it (`pr-42`, `mauntic/pr-42` or `mauntic/mauntic-infra/pr-42`); commands use it. */
  name: string;
  pr: number;
  /** The deploy's `mauntic:deployed-at` tag, else the backend's last update (a stack deployed by hand). */
  lastDeploy?: string;
  /** The deploy's `mauntic:expires-at` tag: when the Neon branch expires unless deployed again. */
  expiresAt?: string;
  sha?: string;
  resourceCount: number;
  updateInProgress: boolean;
  url?: string;
}

/**
 * The workspace every preview command uses: the project folder (Pulumi.yaml), and the CLI from
 * `MAUNTIC_PULUMI_ROOT/bin/pulumi` when set (`PulumiCommand.get` takes any root holding `bin/pulumi`), else from PATH.
 */
export async function previewWorkspace(projectDir: string): Promise<LocalWorkspace> {
  const { LocalWorkspace, PulumiCommand } = await import("@pulumi/pulumi/automation");
  const root = process.env[PULUMI_ROOT_ENV];
  let pulumiCommand;
  try {
    // `get` runs `pulumi version` (cmd.js): the one place a missing CLI shows.
    pulumiCommand = await PulumiCommand.get(root ? { root, skipVersionCheck: true } : {});
  } catch {
    const where = root ? `${root}/bin/pulumi (${PULUMI_ROOT_ENV})` : "PATH";
    throw new Error(`no Pulumi CLI on ${where}: install it (https://www.pulumi.com/docs/install/) and log in`);
  }
  return LocalWorkspace.create({ workDir: projectDir, pulumiCommand });
}

/** The `pr-<N>` part of a backend stack name, or undefined for any other stack (dev, prod, other projects' names). */
export function previewStackOf(name: string): string | undefined {
  const last = name.split("/").at(-1)!;
  if (!STACK_NAME.test(last)) return undefined;
  return parseStackName(last).kind === "preview" ? last : undefined;
}

function summaryToPreview(s: StackSummary, stack: string, tags: Record<string, string>): PreviewStack {
  return {
    stack,
    name: s.name,
    pr: parseStackName(stack).pr!,
    lastDeploy: tags[TAGS.deployedAt] ?? s.lastUpdate,
    expiresAt: tags[TAGS.expiresAt],
    sha: tags[TAGS.sha],
    resourceCount: s.resourceCount ?? 0,
    updateInProgress: s.updateInProgress === true,
    url: s.url,
  };
}

/** Every preview stack of the project, with its tags, sorted by pull request. */
export async function listPreviews(ws: LocalWorkspace): Promise<PreviewStack[]> {
  const out: PreviewStack[] = [];
  for (const s of await ws.listStacks()) {
    const stack = previewStackOf(s.name);
    if (!stack) continue;
    out.push(summaryToPreview(s, stack, await ws.listTags(s.name)));
  }
  return out.sort((a, b) => a.pr - b.pr);
}
