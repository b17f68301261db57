/** Option parsers the commands share: each throws a UsageError (exit 2) naming the flag and what is allowed. */
import { UsageError } from "./errors";

/** A whole number within min..max. */
export function parseCount(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new UsageError(`${flag} '${text}' is not allowed (allowed: a whole number ${min}..${max})`);
  }
  return n;
}

/** `500ms`, `3s`, `5m` -> milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text.trim());
  if (!m)
    throw new UsageError(`${flag} '${text}' is not a duration (allowed: a number with ms, s or m, e.g. 500ms, 3s, 5m)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as "ms" | "s" | "m"];
}
