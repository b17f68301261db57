/**
 * The diff rule every dynamic provider here follows, as the Pulumi engine drives it (see
 * test/helpers/engine-lifecycle.ts): during `pulumi preview` an input that depends on an output not yet known arrives
 * as the engine's unknown placeholder (`UnknownStringValue` in @pulumi/pulumi's runtime/rpc.js). Such a value is a
 * change decided at update time, never a planned replacement: the up that follows diffs again with the value known.
 * Kept free of other imports: Pulumi's closure serializer captures it with each provider.
 */
import type * as pulumi from "@pulumi/pulumi";

export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when a value is, or holds, the engine's unknown placeholder. */
export function isUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(isUnknown);
  if (v && typeof v === "object") return Object.values(v).some(isUnknown);
  return false;
}

/** Canonical JSON (sorted keys, undefined keys dropped): key order in a vendor's answer never counts as a change. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

export const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

/** Properties that differ, split into those that force a replacement and those an update can change. */
export function diffOf(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  replace: readonly string[],
  update: readonly string[],
  deleteBeforeReplace = false,
): pulumi.dynamic.DiffResult {
  const changed = (k: string) => !same(olds[k], news[k]);
  const replaces = replace.filter((k) => news[k] !== undefined && !isUnknown(news[k]) && changed(k));
  const pending = replace.filter((k) => isUnknown(news[k]));
  const updates = update.filter((k) => isUnknown(news[k]) || changed(k));
  return {
    changes: replaces.length + pending.length + updates.length > 0,
    replaces,
    stables: replace.filter((k) => !replaces.includes(k) && !pending.includes(k)),
    deleteBeforeReplace: replaces.length > 0 && deleteBeforeReplace,
  };
}
