/**
 * Which Hyperdrive configs a stack declares, and whether they fit the account. Cloudflare allows 25 configs per
 * account on paid plans (10 on free), shared by every stack in the account: dev and prod take one per database
 * worker plus one per replica reader (6 each today), and preview stacks `pr-<N>` live in dev's account.
 *
 * Preview budget: ONE shared config per preview stack, which every worker of the preview binds as `DB` (and
 * `DB_REPLICA`: previews have no replica). So a preview costs 1 config, and `previewSlots` previews can run at once
 * (25 - 12 = 13 today). Per-worker configs would cost 5 per preview and allow only 2. The shared config runs with
 * the strictest settings of the workers it serves (see `sharedSettings`).
 */
import { ConfigError } from "../config/errors";
import { committedStacks, stackConfigFromValues } from "../config/load";
import type { StackConfig, WorkerDatabaseConfig } from "../config/schema";
import { cloudName, parseStackName } from "../naming";
import { HYPERDRIVE_ACCOUNT_LIMIT } from "./limits";

export { HYPERDRIVE_ACCOUNT_LIMIT };
export const PREVIEW_CONFIGS_EACH = 1;

export type HyperdriveRole = "primary" | "replica" | "shared";

export interface HyperdriveLayoutEntry {
  /** Cloud name, `mauntic-<stack>-<worker>-db` (replica: `-replica-db`, preview: `mauntic-pr-<N>-shared-db`). */
  name: string;
  role: HyperdriveRole;
  /** Catalogue workers that bind this config. */
  workers: string[];
}

/** Catalogue workers that talk to Postgres, in config order. */
export function databaseWorkers(config: StackConfig): [string, WorkerDatabaseConfig][] {
  return Object.entries(config.workers).flatMap(([w, spec]) => (spec.database ? [[w, spec.database] as const] : []));
}

/** The Hyperdrive configs of a stack, from its config alone. */
export function hyperdriveLayout(stack: string, config: StackConfig): HyperdriveLayoutEntry[] {
  const workers = databaseWorkers(config);
  if (parseStackName(stack).kind === "preview") {
    if (workers.length === 0) return [];
    return [{ name: cloudName(stack, "hyperdrive", "shared", "db"), role: "shared", workers: workers.map(([w]) => w) }];
  }
  return workers.flatMap(([w, db]) => {
    const entries: HyperdriveLayoutEntry[] = [
      { name: cloudName(stack, "hyperdrive", w, "db"), role: "primary", workers: [w] },
    ];
    if (db.readsReplica && config.neon.replica.enabled) {
      entries.push({ name: cloudName(stack, "hyperdrive", w, "replica", "db"), role: "replica", workers: [w] });
    }
    return entries;
  });
}

/** The settings a layout entry's config is deployed with: a preview's shared settings, or its one worker's. */
export function entrySettings(config: StackConfig, entry: HyperdriveLayoutEntry): WorkerDatabaseConfig["hyperdrive"] {
  const specs = entry.workers.map((w) => config.workers[w]!.database!);
  return entry.role === "shared" ? sharedSettings(specs) : specs[0]!.hyperdrive;
}

/**
 * The settings of a preview's shared config: caching off if any worker turns it off (identity: revoked sessions,
 * delivery: suppressions must never be served stale), else the shortest max age and stale-while-revalidate; the
 * smallest origin connection limit (a preview carries little traffic and shares the branch's small compute).
 */
export function sharedSettings(workers: WorkerDatabaseConfig[]): WorkerDatabaseConfig["hyperdrive"] {
  const caching = workers.map((w) => w.hyperdrive.caching);
  const enabled = caching.length > 0 && caching.every((c) => c.enabled);
  return {
    caching: {
      enabled,
      maxAgeSeconds: Math.min(...caching.map((c) => c.maxAgeSeconds)),
      staleWhileRevalidateSeconds: Math.min(...caching.map((c) => c.staleWhileRevalidateSeconds)),
    },
    originConnectionLimit: Math.min(...workers.map((w) => w.hyperdrive.originConnectionLimit)),
  };
}

export interface HyperdriveBudget {
  accountId: string;
  plan: "free" | "paid";
  accountLimit: number;
  strategy: string;
  /** Configs this stack declares. */
  thisStack: number;
  /** Configs of each committed stack in the same account (this stack's from the config in hand). */
  committed: Record<string, number>;
  committedTotal: number;
  previewConfigsEach: number;
  /** How many preview stacks fit in the account at once next to the committed stacks. */
  previewSlots: number;
}

export const PREVIEW_STRATEGY =
  "one shared Hyperdrive config per preview stack (pr-<N>), bound by every worker as DB and DB_REPLICA";

/**
 * The account's Hyperdrive budget as this stack sees it. Fails (ConfigError) when the committed stacks alone exceed
 * the account limit, or when no preview fits next to them.
 */
export function hyperdriveBudget(stack: string, config: StackConfig, committed = committedStacks()): HyperdriveBudget {
  const { accountId, plan } = config.cloudflare;
  const accountLimit = HYPERDRIVE_ACCOUNT_LIMIT[plan];
  const counts: Record<string, number> = {};
  for (const { stack: other, raw } of committed) {
    // A preview's own file (secrets, an encryption salt) never adds configs: previews are budgeted as slots.
    if (other !== stack && parseStackName(other).kind === "preview") continue;
    const cfg = other === stack ? config : stackConfigFromValues(other, raw.values, raw.source);
    if (cfg.cloudflare.accountId !== accountId || cfg.environment === "preview") continue;
    counts[other] = hyperdriveLayout(other, cfg).length;
  }
  const thisStack = hyperdriveLayout(stack, config).length;
  if (parseStackName(stack).kind !== "preview") counts[stack] = thisStack;
  const committedTotal = Object.values(counts).reduce((a, b) => a + b, 0);
  const previewSlots = Math.max(0, Math.floor((accountLimit - committedTotal) / PREVIEW_CONFIGS_EACH));
  const breakdown = Object.entries(counts)
    .map(([s, n]) => `${s} ${n}`)
    .join(" + ");
  if (committedTotal > accountLimit) {
    throw new ConfigError(
      [
        `config.mauntic-infra:workers: the committed stacks declare ${committedTotal} Hyperdrive configs in account ` +
          `${accountId} (${breakdown}) (allowed: at most ${accountLimit} on the ${plan} plan)`,
      ],
      `Pulumi.${stack}.yaml`,
    );
  }
  if (parseStackName(stack).kind === "preview" && previewSlots < 1) {
    throw new ConfigError(
      [
        `config.mauntic-infra:workers: no Hyperdrive config left for preview ${stack} in account ${accountId}: ` +
          `${breakdown} use ${committedTotal} of ${accountLimit} (allowed: committed stacks using at most ` +
          `${accountLimit - PREVIEW_CONFIGS_EACH})`,
      ],
      "Pulumi.dev.yaml",
    );
  }
  return {
    accountId,
    plan,
    accountLimit,
    strategy: PREVIEW_STRATEGY,
    thisStack,
    committed: counts,
    committedTotal,
    previewConfigsEach: PREVIEW_CONFIGS_EACH,
    previewSlots,
  };
}
