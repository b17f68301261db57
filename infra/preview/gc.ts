/**
 * `preview gc`: which previews to remove (pull request closed, or last deploy older than the TTL), and removing
 * them: destroy (with refresh, since Neon may have expired the branch already) and `stack rm`. Only `pr-<N>`
 * stacks are ever candidates; dev and prod never are.
 */
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import { UsageError } from "../cli/errors";
import { previewStackOf, type PreviewStack } from "./stacks";

export type GcReason = "closed" | "stale";

export interface GcDecision {
  preview: PreviewStack;
  /** Why it goes, or undefined when it stays. */
  reason?: GcReason;
  /** One line for people: the reason with its figures, or why it stays. */
  detail: string;
}

/**
 * Open pull requests from `--open`: a comma-separated list (`12,15`) or a file holding `gh pr list --json number`
 * output (`[{"number": 12}, ...]`, `[]` when none is open). A list is required so that a missing one can never
 * read as "every pull request is closed".
 */
export function parseOpenPullRequests(value: string): Set<number> {
  const text = fs.existsSync(value) ? fs.readFileSync(value, "utf8") : undefined;
  if (text === undefined) {
    if (!/^\d+(,\d+)*$/.test(value.trim())) {
      throw new UsageError(
        `--open '${value}' is neither a file nor a list of numbers (allowed: 12,15 or a file from 'gh pr list --json number')`,
      );
    }
    return new Set(value.trim().split(",").map(Number));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--open ${value}: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => Number.isInteger((p as { number?: unknown })?.number))) {
    throw new UsageError(`--open ${value}: expected [{"number": N}, ...] as 'gh pr list --json number' prints`);
  }
  return new Set(parsed.map((p) => (p as { number: number }).number));
}

/** Decides each preview's fate. Pure: the clock and the open list are arguments. */
export function decide(previews: PreviewStack[], open: Set<number>, ttlHours: number, now: Date): GcDecision[] {
  return previews.map((preview) => {
    if (preview.updateInProgress) return { preview, detail: "an update is running; the next run decides" };
    if (!open.has(preview.pr)) return { preview, reason: "closed", detail: `pull request #${preview.pr} is closed` };
    const at = preview.lastDeploy ? Date.parse(preview.lastDeploy) : NaN;
    if (Number.isNaN(at)) return { preview, detail: "no deploy time recorded; kept while the pull request is open" };
    const ageHours = (now.getTime() - at) / 3_600_000;
    if (ageHours > ttlHours) {
      return {
        preview,
        reason: "stale",
        detail: `last deployed ${preview.lastDeploy}, ${ageHours.toFixed(1)} h ago (TTL ${ttlHours} h)`,
      };
    }
    return { preview, detail: `deployed ${ageHours.toFixed(1)} h ago (TTL ${ttlHours} h)` };
  });
}

export interface GcResult {
  decision: GcDecision;
  /** removed: destroyed and stack removed; planned: dry run; kept; failed (error says why). */
  outcome: "removed" | "planned" | "kept" | "failed";
  error?: string;
}

/**
 * Destroys and removes each preview `decide` picked, one at a time (each destroy talks to Neon, Cloudflare and
 * Fly). A failure (e.g. a stack locked by a running deploy) is recorded and the others still go.
 */
export async function collect(
  ws: LocalWorkspace,
  decisions: GcDecision[],
  opts: { dryRun: boolean; log: (line: string) => void },
): Promise<GcResult[]> {
  const { Stack } = await import("@pulumi/pulumi/automation");
  const results: GcResult[] = [];
  for (const decision of decisions) {
    const { preview, reason } = decision;
    if (!reason) {
      results.push({ decision, outcome: "kept" });
      continue;
    }
    // Belt and braces: only a pr-<N> name ever reaches destroy.
    if (previewStackOf(preview.name) !== preview.stack) throw new Error(`refusing to remove ${preview.name}`);
    if (opts.dryRun) {
      results.push({ decision, outcome: "planned" });
      continue;
    }
    opts.log(`${preview.stack}: ${decision.detail}: destroying`);
    try {
      const stack = await Stack.select(preview.name, ws);
      // refresh first: the branch may be gone already (Neon deletes it at expires_at), and destroy must not fail on it.
      await stack.destroy({ refresh: true, remove: true, onOutput: (o) => opts.log(o.trimEnd()) });
      results.push({ decision, outcome: "removed" });
    } catch (e) {
      results.push({ decision, outcome: "failed", error: firstLine(e) });
    }
  }
  return results;
}

/**
 * The Pulumi CLI's own `error:` lines from an Automation API failure (its message carries the command line, then
 * stderr and stdout), else the first line.
 */
export function firstLine(e: unknown): string {
  const r = (e as { commandResult?: { stderr?: string } }).commandResult;
  const text = r?.stderr?.trim() || (e as Error).message || String(e);
  const lines = text.split("\n");
  const errors = lines.filter((l) => l.startsWith("error: ")).map((l) => l.slice("error: ".length));
  return errors.length ? errors.join("; ") : (lines.find((l) => l.trim()) ?? text);
}
