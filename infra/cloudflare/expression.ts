/**
 * The one builder of cache-tier rule expressions (Cloudflare Rules language). Every value that reaches an
 * expression goes through `quote` (string literal) and, for patterns, `wildcardLiteral` first. Written by hand: no
 * npm library speaks the Rules language (Cloudflare's parser, wirefilter, is Rust).
 *
 * Escaping, from developers.cloudflare.com/ruleset-engine/rules-language/{values,operators}:
 * - a quoted string escapes `"` and `\` as `\"` and `\\`, and knows no other escape (so control characters cannot
 *   be written: they are rejected);
 * - a `wildcard`/`strict wildcard` literal treats `*` as "any run of characters", takes `\*` for a literal star and
 *   `\\` for a literal backslash, and rejects `**`.
 */
import type { CacheTier } from "../config/schema";

/** Cloudflare's limit on one rule expression. */
export const MAX_EXPRESSION_LENGTH = 4096;

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A Rules-language quoted string literal for `value`. */
export function quote(value: string): string {
  if (CONTROL.test(value)) {
    throw new ExpressionError(
      `${JSON.stringify(value)} contains a control character (allowed: printable characters only)`,
    );
  }
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * A wildcard literal (before quoting). In `pattern`, `*` is the wildcard (config paths: "`*` matches any run of
 * characters") and runs of it collapse to one, since `**` is invalid; a backslash is literal. With `literal`, every
 * character is literal (hostnames taken as they are).
 */
export function wildcardLiteral(pattern: string, opts: { literal?: boolean } = {}): string {
  const escaped = pattern.replace(/\\/g, "\\\\");
  if (opts.literal) return escaped.replace(/\*/g, "\\*");
  return escaped.replace(/\*+/g, "*");
}

const PATH = "http.request.uri.path";
const HOST = "http.host";
const MEDIA_TYPE = "http.response.content_type.media_type";

/** One path pattern: exact paths compare with `eq`; patterns use `strict wildcard` (URL paths are case-sensitive). */
export function pathCondition(pattern: string): string {
  if (!pattern.includes("*")) return `${PATH} eq ${quote(pattern)}`;
  return `${PATH} strict wildcard ${quote(wildcardLiteral(pattern))}`;
}

/**
 * The hosts a rule serves: the stack's own host and, for the stack that preview stacks derive from (dev), the
 * preview hosts `pr-<N>-<first label>.<rest>` (infra/config/load.ts previewOverrides), matched with a wildcard on
 * N because `matches` (regex) needs a Business plan.
 */
export function hostCondition(host: string, opts: { previewHosts?: boolean } = {}): string {
  const exact = `${HOST} eq ${quote(host)}`;
  if (!opts.previewHosts) return exact;
  return `(${exact} or ${HOST} wildcard ${quote(`pr-*-${wildcardLiteral(host, { literal: true })}`)})`;
}

function anyOf(conditions: string[]): string {
  return conditions.length === 1 ? conditions[0]! : `(${conditions.join(" or ")})`;
}

/**
 * What a tier matches within its host, as conjuncts: any of its paths, and its content type when it has one.
 * `http.response.content_type.media_type` is the lowercase type without parameters, so a parameter never matches.
 */
function tierMatch(tier: Pick<CacheTier, "paths" | "contentType">): string[] {
  const parts = [anyOf([...new Set(tier.paths)].map(pathCondition))];
  if (tier.contentType !== undefined) {
    if (tier.contentType.includes(";")) {
      throw new ExpressionError(
        `content type ${JSON.stringify(tier.contentType)} has parameters (allowed: a bare media type such as text/html)`,
      );
    }
    parts.push(`${MEDIA_TYPE} eq ${quote(tier.contentType.trim().toLowerCase())}`);
  }
  return parts;
}

/** Characters of a path pattern that are not wildcards: the more, the narrower the pattern. */
function literalLength(pattern: string): number {
  return pattern.replace(/\*/g, "").length;
}

/**
 * How narrow a tier is: its broadest path decides (fewest literal characters), then a content-type condition.
 * Compared as a tuple; larger is more specific.
 */
export function specificity(tier: Pick<CacheTier, "paths" | "contentType">): [number, number] {
  return [Math.min(...tier.paths.map(literalLength)), tier.contentType === undefined ? 0 : 1];
}

function compareSpecificity(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/**
 * Whether two path patterns (with `*` wildcards only) match at least one common path. Written by hand: a
 * two-pointer search over both patterns, memoized; glob libraries match strings, not patterns against patterns.
 */
export function patternsOverlap(a: string, b: string): boolean {
  const p = a.replace(/\*+/g, "*");
  const q = b.replace(/\*+/g, "*");
  const memo = new Map<number, boolean>();
  const meet = (i: number, j: number): boolean => {
    const key = i * (q.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === p.length && j === q.length) r = true;
    else if (p[i] === "*") r = meet(i + 1, j) || (j < q.length && meet(i, j + 1));
    else if (q[j] === "*") r = meet(i, j + 1) || (i < p.length && meet(i + 1, j));
    else r = i < p.length && j < q.length && p[i] === q[j] && meet(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return meet(0, 0);
}

function tiersOverlap(a: CacheTier, b: CacheTier): boolean {
  const [x, y] = [a.contentType?.trim().toLowerCase(), b.contentType?.trim().toLowerCase()];
  const types = x === undefined || y === undefined || x === y;
  return types && a.paths.some((x) => b.paths.some((y) => patternsOverlap(x, y)));
}

export interface TierRule {
  tier: string;
  expression: string;
}

/**
 * One expression per tier, in the order the rules must run: broad tiers first, narrower ones after. A tier also
 * excludes every narrower tier on its host, so the narrower tier wins whatever order Cloudflare applies them in
 * (the template-preview tier wins over API responses on the API host). Two tiers that are equally narrow and can
 * match the same response are ambiguous: an error names them.
 */
export function tierExpressions(
  tiers: Record<string, CacheTier>,
  hosts: Record<CacheTier["host"], string>,
  opts: { previewHosts?: boolean } = {},
): TierRule[] {
  const names = Object.keys(tiers);
  const ordered = names
    .map((name, index) => ({ name, index, tier: tiers[name]!, rank: specificity(tiers[name]!) }))
    .sort((a, b) => compareSpecificity(a.rank, b.rank) || a.index - b.index);

  return ordered.map(({ name, tier, rank }) => {
    const narrower: string[] = [];
    for (const other of ordered) {
      if (other.name === name || other.tier.host !== tier.host) continue;
      const cmp = compareSpecificity(other.rank, rank);
      if (cmp > 0) narrower.push(`not (${tierMatch(other.tier).join(" and ")})`);
      else if (cmp === 0 && tiersOverlap(tier, other.tier)) {
        const [x, y] = [name, other.name].sort();
        throw new ExpressionError(
          `cache tiers '${x}' and '${y}' match the same responses on host '${tier.host}' and neither is narrower ` +
            `(allowed: give one of them a narrower path or a contentType)`,
        );
      }
    }
    const host = hosts[tier.host];
    const expression = [hostCondition(host, opts), ...tierMatch(tier), ...narrower].join(" and ");
    if (expression.length > MAX_EXPRESSION_LENGTH) {
      throw new ExpressionError(
        `cache tier '${name}': its rule expression is ${expression.length} characters ` +
          `(allowed: at most ${MAX_EXPRESSION_LENGTH}; use fewer paths)`,
      );
    }
    return { tier: name, expression };
  });
}
