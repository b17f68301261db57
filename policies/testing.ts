/**
 * Test helpers for the policy files' tests: today's real plans of dev, prod and pr-42 as the analyzer sees them
 * (made once by test/fixtures/analyzed-plans.ts under tsx, cached in .tmp/ by a hash of what they derive from), a
 * way to break one resource's props, and one policy's verdicts through the offline harness.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { analyzeResources, type AnalyzedResource, type PackConfig } from "../infra/offline/policies";
import type { Violation } from "../infra/offline/plan";
import type { MetaPolicy } from "./lib";

const ROOT = path.resolve(__dirname, "..");
export const STACKS = ["dev", "prod", "pr-42"] as const;
export type Stack = (typeof STACKS)[number];

function sourcesHash(): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|sql|ya?ml)$/.test(e.name)) h.update(p).update(fs.readFileSync(p));
    }
  };
  for (const d of ["infra", "migrations"]) walk(path.join(ROOT, d));
  for (const f of fs
    .readdirSync(ROOT)
    .filter((n) => /^Pulumi.*\.yaml$/.test(n))
    .sort())
    h.update(fs.readFileSync(path.join(ROOT, f)));
  return h.digest("hex").slice(0, 16);
}

export interface RealPlan {
  analyzed: AnalyzedResource[];
  violations: Violation[];
}

/** The same stacks as `pulumi preview` of a change to every resource shows them (infra/offline/engine.ts `preview`). */
export type PreviewStack = `${Stack}@preview`;
const previewMemo: { value?: Record<PreviewStack, RealPlan> } = {};
/** A deep copy of a stack's resources as a preview of a change hands them to the pack: hosts and ids unknown. */
export function previewPlanOf(stack: Stack): AnalyzedResource[] {
  previewMemo.value ??= loadPlans(
    "analyzed-previews",
    STACKS.map((s) => `${s}@preview` as PreviewStack),
  ) as Record<PreviewStack, RealPlan>;
  return structuredClone(previewMemo.value[`${stack}@preview`].analyzed);
}

let memo: Record<Stack, RealPlan> | Error | undefined;
/** The three committed plans as the analyzer sees them. */
export function realPlans(): Record<Stack, RealPlan> {
  if (memo instanceof Error) throw memo; // one failed run is enough: every test would repeat it
  if (memo) return memo;
  try {
    memo = loadPlans("analyzed-plans", [...STACKS]) as Record<Stack, RealPlan>;
  } catch (e) {
    memo = e as Error;
    throw e;
  }
  return memo;
}

function loadPlans(prefix: string, stacks: string[]): Record<string, RealPlan> {
  const cache = path.join(ROOT, ".tmp", `${prefix}-${sourcesHash()}.json`);
  if (!fs.existsSync(cache)) {
    const run = spawnSync(
      path.join(ROOT, "node_modules", ".bin", "tsx"),
      [path.join(ROOT, "test", "fixtures", "analyzed-plans.ts"), ...stacks],
      {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 180_000,
        maxBuffer: 64 * 1024 * 1024, // the plans with their dynamic providers' code are over a megabyte
      },
    );
    if (run.status !== 0)
      throw new Error(`analyzed-plans exited ${run.status ?? run.signal}: ${run.error ?? run.stderr}`);
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    const tmp = `${cache}.${process.pid}`;
    fs.writeFileSync(tmp, run.stdout);
    fs.renameSync(tmp, cache); // atomic: parallel test files never read half a file
    for (const old of fs
      .readdirSync(path.dirname(cache))
      .filter((n) => new RegExp(`^${prefix}-[0-9a-f]+\\.json$`).test(n))) {
      if (path.join(path.dirname(cache), old) !== cache)
        fs.rmSync(path.join(path.dirname(cache), old), { force: true });
    }
  }
  return JSON.parse(fs.readFileSync(cache, "utf8")) as Record<string, RealPlan>;
}

/** A deep copy of a stack's analyzed resources, to break. */
export function planOf(stack: Stack): AnalyzedResource[] {
  return structuredClone(realPlans()[stack].analyzed);
}

/**
 * The resource whose name is `name`, the custom one when a component shares the name (throws when the plan has
 * none: the test would prove nothing).
 */
export function named(resources: AnalyzedResource[], name: string): AnalyzedResource {
  const all = resources.filter((x) => x.name === name);
  const r = all.find((x) => x.custom) ?? all[0];
  if (!r) throw new Error(`no resource ${name} in the plan`);
  return r;
}

/** One policy's findings over the resources, through the offline harness, with an optional pack config. */
export async function verdicts(
  policy: MetaPolicy,
  resources: AnalyzedResource[],
  config: PackConfig = {},
): Promise<Violation[]> {
  return analyzeResources(resources, { policies: [policy], config });
}

/** A resource the plan does not have yet (Fly machines until branch fly merges), shaped as the engine registers it. */
export function extraResource(
  stack: Stack,
  type: string,
  name: string,
  props: Record<string, unknown>,
): AnalyzedResource {
  return {
    urn: `urn:pulumi:${stack}::mauntic-infra::${type}::${name}`,
    type,
    name,
    custom: true,
    inputs: props,
    outputs: props,
    dependencies: [],
    protect: false,
    ignoreChanges: [],
    additionalSecretOutputs: [],
  };
}

const SIG = "4dabf18193072939515e22adb298388d";
/**
 * A wire value's plain object: outputs hold a property with a secret inside as one secret (`{<sig>: <secret sig>,
 * value}`); edits go to `value`, which the analyzer hands over decrypted.
 */
export function plain(v: unknown): Record<string, unknown> {
  const o = v as Record<string, unknown>;
  return (o && SIG in o ? o.value : o) as Record<string, unknown>;
}
