/**
 * The preview budget: what one more `pr-<N>` would take, and what is left.
 * - Hyperdrive configs in dev's Cloudflare account: the account limit and the committed stacks' configs come from
 *   `hyperdriveBudget` (infra/cloudflare/budget.ts: the plan's limit, dev's and prod's stack files); the previews
 *   already deployed come from the backend (`pulumi stack ls`: pr-<N> stacks holding resources), each taking the
 *   preview layout's configs (one shared config).
 * - Neon branches in dev's project: the limit is the project owner's plan allowance and the count is the project's
 *   branches, both from Neon's API (`GET /projects/{id}` -> `project.owner.branches_limit`,
 *   `GET /projects/{id}/branches/count`; public-v2 OpenAPI `ProjectOwnerData`, `countProjectBranches`).
 * A preview whose branch is still alive needs no new branch; one whose branch expired needs one again.
 */
import { hyperdriveBudget, hyperdriveLayout } from "../cloudflare/budget";
import type { StackConfig } from "../config/schema";
import type { NeonClient } from "../neon/client";
import type { PreviewStack } from "./stacks";

export interface BudgetLine {
  what: string;
  needs: number;
  limit: number;
  used: number;
  left: number;
  /** Where the figures come from and what uses them. */
  detail: string;
}

export interface PreviewBudget {
  stack: string;
  hyperdrive: BudgetLine;
  neon: BudgetLine;
  fits: boolean;
}

export class BudgetError extends Error {
  override name = "BudgetError";
  constructor(readonly budget: PreviewBudget) {
    super(
      `preview budget exceeded for ${budget.stack}: ` +
        [budget.hyperdrive, budget.neon]
          .filter((l) => l.needs > l.left)
          .map((l) => `${l.what}: needs ${l.needs}, ${l.left} left of ${l.limit} (${l.used} used; ${l.detail})`)
          .join("; "),
    );
  }
}

export function hyperdriveLine(stack: string, config: StackConfig, previews: PreviewStack[]): BudgetLine {
  const hb = hyperdriveBudget(stack, config);
  const each = hyperdriveLayout(stack, config).length;
  const live = previews.filter((p) => p.stack !== stack && p.resourceCount > 0);
  const mine = previews.find((p) => p.stack === stack);
  const used = hb.committedTotal + live.length * each;
  const committed = Object.entries(hb.committed)
    .map(([s, n]) => `${s} ${n}`)
    .join(" + ");
  return {
    what: `Hyperdrive configs in Cloudflare account ${hb.accountId}`,
    needs: mine && mine.resourceCount > 0 ? 0 : each,
    limit: hb.accountLimit,
    used,
    left: Math.max(0, hb.accountLimit - used),
    detail:
      `${hb.plan} plan limit ${hb.accountLimit}; committed stacks ${committed}; ` +
      `${live.length} live preview(s) x ${each}${live.length ? ` (${live.map((p) => p.stack).join(", ")})` : ""}`,
  };
}

export async function neonLine(
  neon: NeonClient,
  projectId: string,
  opts: { existingBranchId?: string; branchesLimit?: number },
): Promise<BudgetLine> {
  const { project } = await neon.read(`read project ${projectId}`, (p) => neon.api.getProject(projectId, p));
  const limit = opts.branchesLimit ?? project.owner?.branches_limit;
  if (limit === undefined) {
    throw new Error(
      `Neon did not report project ${projectId}'s branch allowance (project.owner.branches_limit); ` +
        `pass --neon-branches-limit <n> from your plan`,
    );
  }
  const { count } = await neon.read(`count branches of ${projectId}`, (p) =>
    neon.api.countProjectBranches({ projectId }, p),
  );
  const branchId = opts.existingBranchId;
  const alive = branchId
    ? (await neon.readOptional(`read branch ${branchId}`, (p) => neon.api.getProjectBranch(projectId, branchId, p))) !==
      undefined
    : false;
  return {
    what: `Neon branches in project ${projectId}`,
    needs: alive ? 0 : 1,
    limit,
    used: count,
    left: Math.max(0, limit - count),
    detail:
      `${opts.branchesLimit !== undefined ? "limit from --neon-branches-limit" : "plan allowance from Neon"}; ` +
      `${count} branch(es) exist` +
      (branchId ? `; this preview's branch ${branchId} ${alive ? "is alive" : "has expired"}` : ""),
  };
}

export function verdict(stack: string, hyperdrive: BudgetLine, neon: BudgetLine): PreviewBudget {
  return { stack, hyperdrive, neon, fits: hyperdrive.needs <= hyperdrive.left && neon.needs <= neon.left };
}
