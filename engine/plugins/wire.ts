/**
 * Property values as a provider plugin sees them on the wire: `Struct.toJavaScript()` of what the engine sends.
 * A secret is `{ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value }` and an unknown
 * (a value not known during a preview) is the string "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
 * (@pulumi/pulumi runtime/rpc.js: specialSigKey, specialSecretSig, unknownValue; the engine's
 * sdk/go/common/resource/plugin/rpc.go uses the same constants).
 */
import { UNKNOWN, isUnknown as holdsUnknown } from "../../infra/dynamic/diff";

export { UNKNOWN };
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export type Wire = unknown;

export function isSecret(v: Wire): v is { value: Wire } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function secret(v: Wire): Wire {
  if (isSecret(v) || v === undefined) return v;
  return { [SIG_KEY]: SECRET_SIG, value: v };
}

export function isUnknown(v: Wire): boolean {
  return v === UNKNOWN;
}

/** The value with every secret wrapper removed, deeply. */
export function reveal<T = unknown>(v: Wire): T {
  if (isSecret(v)) return reveal(v.value);
  if (Array.isArray(v)) return v.map((x) => reveal(x)) as T;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)])) as T;
  }
  return v as T;
}

export function containsSecret(v: Wire): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (typeof v === "object" && v !== null) return Object.values(v).some(containsSecret);
  return false;
}

/** A value that is, or holds, an unknown (inside a secret too: its `value` is one of its values). */
export const containsUnknown = (v: Wire): boolean => holdsUnknown(v);

/**
 * Structural equality of two wire values, secrets compared by what they hold (the engine's DeepEquals does too).
 * Unlike infra/dynamic/diff.ts `same`, a null counts as absent: the bridge sends Terraform's nulls for unset fields.
 */
export function sameValue(a: Wire, b: Wire): boolean {
  return JSON.stringify(canonical(reveal(a))) === JSON.stringify(canonical(reveal(b)));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined && (v as Record<string, unknown>)[k] !== null)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
