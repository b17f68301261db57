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
const STATUS = "http.response.code";

/**
 * Where a rule runs. `response` phases (http_response_headers_transform) read request and response fields;
 * `request` phases (http_request_cache_settings) run before the origin answers, so response fields such as
 * `http.response.*` are not available there (developers.cloudflare.com/ruleset-engine/rules-language/fields/reference,
 * each field's "phases"; cache/how-to/cache-rules/settings lists request fields only).
 */
export type RulePhase = "request" | "response";

/** The statuses a cacheable tier's long-lived headers apply to: success, partial content, not modified. */
export const SUCCESS_STATUSES = [200, 206, 304] as const;

/** `http.response.code in {200 206 304}`: an inline set is space-separated (rules-language/values, "Lists"). */
export function successCondition(): string {
  return `${STATUS} in {${SUCCESS_STATUSES.join(" ")}}`;
}

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
 * What a tier matches within its host, as conjuncts: any of its paths, and its content type when it has one (a
 * response field: left out in the request phase, where the tier covers its paths whatever the type), or a 304.
 * `http.response.content_type.media_type` is the lowercase type without parameters, so a parameter never matches.
 */
function tierMatch(tier: Pick<CacheTier, "paths" | "contentType">, phase: RulePhase = "response"): string[] {
  const parts = [anyOf([...new Set(tier.paths)].map(pathCondition))];
  if (tier.contentType !== undefined && phase === "response") {
    if (tier.contentType.includes(";")) {
      throw new ExpressionError(
        `content type ${JSON.stringify(tier.contentType)} has parameters (allowed: a bare media type such as text/html)`,
      );
    }
    // A 304 carries no Content-Type (RFC 9110 15.4.5: it sends only the fields a 200 would for caching), so the
    // tier's revalidations of its paths match without one: its headers must hold on the 304 too.
    parts.push(`(${MEDIA_TYPE} eq ${quote(tier.contentType.trim().toLowerCase())} or ${STATUS} in {304})`);
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

function tiersOverlap(a: CacheTier, b: CacheTier, phase: RulePhase = "response"): boolean {
  const [x, y] = [a.contentType?.trim().toLowerCase(), b.contentType?.trim().toLowerCase()];
  const types = phase === "request" || x === undefined || y === undefined || x === y;
  return types && a.paths.some((x) => b.paths.some((y) => patternsOverlap(x, y)));
}

export interface TierRule {
  tier: string;
  expression: string;
}

export interface TierExpressionOptions {
  /** Also match preview hosts `pr-*-<host>` (the dev stack). */
  previewHosts?: boolean;
  /** The phase the rules run in (default `response`). */
  phase?: RulePhase;
  /** Tiers whose rule applies to successful responses only (response phase): their headers are long-lived. */
  successOnly?: (tier: string) => boolean;
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
  opts: TierExpressionOptions = {},
): TierRule[] {
  const phase = opts.phase ?? "response";
  if (phase === "request" && opts.successOnly) {
    throw new ExpressionError("a request-phase rule cannot read the response status (http.response.code)");
  }
  const names = Object.keys(tiers);
  const ordered = names
    .map((name, index) => ({ name, index, tier: tiers[name]!, rank: specificity(tiers[name]!) }))
    .sort((a, b) => compareSpecificity(a.rank, b.rank) || a.index - b.index);

  return ordered.map(({ name, tier, rank }) => {
    const narrower: string[] = [];
    for (const other of ordered) {
      if (other.name === name || other.tier.host !== tier.host) continue;
      const cmp = compareSpecificity(other.rank, rank);
      // Before the response, a tier narrower only by its content type cannot be told apart from this one.
      const sharePaths = other.rank[0] === rank[0] && tiersOverlap(tier, other.tier, "request");
      if (phase === "request" && sharePaths && !(cmp === 0 && tiersOverlap(tier, other.tier))) {
        const [x, y] = [name, other.name].sort();
        throw new ExpressionError(
          `cache tiers '${x}' and '${y}' share paths on host '${tier.host}' and differ only by contentType, which ` +
            `the cache rules (phase http_request_cache_settings) cannot read (allowed: give one of them a narrower path)`,
        );
      }
      if (cmp > 0) narrower.push(`not (${tierMatch(other.tier, phase).join(" and ")})`);
      else if (cmp === 0 && tiersOverlap(tier, other.tier)) {
        const [x, y] = [name, other.name].sort();
        throw new ExpressionError(
          `cache tiers '${x}' and '${y}' match the same responses on host '${tier.host}' and neither is narrower ` +
            `(allowed: give one of them a narrower path or a contentType)`,
        );
      }
    }
    const host = hosts[tier.host];
    const status = opts.successOnly?.(name) ? [successCondition()] : [];
    const expression = [hostCondition(host, opts), ...tierMatch(tier, phase), ...status, ...narrower].join(" and ");
    if (expression.length > MAX_EXPRESSION_LENGTH) {
      throw new ExpressionError(
        `cache tier '${name}': its rule expression is ${expression.length} characters ` +
          `(allowed: at most ${MAX_EXPRESSION_LENGTH}; use fewer paths)`,
      );
    }
    return { tier: name, expression };
  });
}
