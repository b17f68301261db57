/**
 * An independent model of the Rules-language subset the cache-tier builder emits, written from Cloudflare's docs
 * (ruleset-engine/rules-language/{values,operators}), so tests can ask "which headers does this response get?"
 * instead of comparing strings: quoted strings with `\"`/`\\`, `eq`, `wildcard` (case-insensitive), `strict wildcard`,
 * `in {<integers>}` (space-separated inline list), `not`, `and`, `or` (that precedence), parentheses. Anything else
 * throws, so an expression outside the subset fails. A request-phase rule (cache rules) that reads a response field
 * throws too: those fields do not exist before the origin answers.
 *
 * `edgeCache` models the cache rules (developers.cloudflare.com/cache/how-to/cache-rules/order: every matching rule
 * applies, a later rule's setting wins; settings.md: bypass, eligible, edge TTL "ignore cache-control header and use
 * this TTL", status code TTL where -1 is no-store and 0 no-cache per the provider's schema).
 */

export interface Response {
  host: string;
  path: string;
  /** Lowercase media type without parameters, as http.response.content_type.media_type. */
  mediaType?: string;
  /** http.response.code; 200 when absent. */
  status?: number;
}

export type Phase = "request" | "response";

type Token =
  | { kind: "str"; value: string }
  | { kind: "word"; value: string }
  | { kind: "int"; value: number }
  | { kind: "paren"; value: "(" | ")" | "{" | "}" };

/** Splits an expression; a quoted string must be well formed (only `\"` and `\\` escapes, closed). */
export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === " ") {
      i++;
    } else if (c === "(" || c === ")" || c === "{" || c === "}") {
      tokens.push({ kind: "paren", value: c });
      i++;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(expr.slice(i))!;
      tokens.push({ kind: "int", value: Number(m[0]) });
      i += m[0].length;
    } else if (c === '"') {
      let value = "";
      i++;
      for (;;) {
        if (i >= expr.length) throw new Error(`unterminated string in ${expr}`);
        const d = expr[i]!;
        if (d === "\\") {
          const n = expr[i + 1];
          if (n !== '"' && n !== "\\") throw new Error(`invalid escape \\${n} in ${expr}`);
          value += n;
          i += 2;
        } else if (d === '"') {
          i++;
          break;
        } else {
          value += d;
          i++;
        }
      }
      tokens.push({ kind: "str", value });
    } else {
      const m = /^[a-z_.]+/.exec(expr.slice(i));
      if (!m) throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in ${expr}`);
      tokens.push({ kind: "word", value: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

/** Cloudflare wildcard semantics: `*` any run, `\*` a literal star, `\\` a literal backslash; `**` is invalid. */
export function wildcardMatch(pattern: string, value: string, caseSensitive: boolean): boolean {
  type Piece = { star: true } | { star: false; ch: string };
  const pieces: Piece[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") {
      const n = pattern[++i];
      if (n !== "*" && n !== "\\") throw new Error(`invalid wildcard escape in ${pattern}`);
      pieces.push({ star: false, ch: n });
    } else if (c === "*") {
      if (pieces.at(-1)?.star) throw new Error(`'**' is invalid in ${pattern}`);
      pieces.push({ star: true });
    } else pieces.push({ star: false, ch: c });
  }
  const norm = (s: string) => (caseSensitive ? s : s.toLowerCase());
  const v = norm(value);
  const memo = new Map<string, boolean>();
  const go = (p: number, s: number): boolean => {
    const key = `${p}:${s}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (p === pieces.length) r = s === v.length;
    else {
      const piece = pieces[p]!;
      if (piece.star) r = go(p + 1, s) || (s < v.length && go(p, s + 1));
      else r = s < v.length && norm(piece.ch) === v[s] && go(p + 1, s + 1);
    }
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/** Evaluates an expression against a response (or, in the request phase, the request part of it). */
export function evaluate(expr: string, r: Response, phase: Phase = "response"): boolean {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = () => tokens[pos];
  const word = (w: string) => {
    const t = peek();
    if (t?.kind === "word" && t.value === w) {
      pos++;
      return true;
    }
    return false;
  };
  const field = (name: string): string | number => {
    if (name.startsWith("http.response.") && phase === "request") {
      throw new Error(`${name} is a response field: a request-phase rule cannot read it (${expr})`);
    }
    if (name === "http.host") return r.host;
    if (name === "http.request.uri.path") return r.path;
    if (name === "http.response.content_type.media_type") return r.mediaType ?? "";
    if (name === "http.response.code") return r.status ?? 200;
    throw new Error(`unknown field ${name}`);
  };
  const comparison = (): boolean => {
    const t = tokens[pos++];
    if (t?.kind !== "word") throw new Error(`expected a field in ${expr}`);
    const value = field(t.value);
    if (word("in")) {
      const open = tokens[pos++];
      if (open?.kind !== "paren" || open.value !== "{") throw new Error(`expected '{' after in, in ${expr}`);
      const set: number[] = [];
      for (let n = tokens[pos++]; !(n?.kind === "paren" && n.value === "}"); n = tokens[pos++]) {
        if (n?.kind !== "int") throw new Error(`expected an integer or '}' in ${expr}`);
        set.push(n.value);
      }
      if (typeof value !== "number" || set.length === 0)
        throw new Error(`'in' needs an integer field and values: ${expr}`);
      return set.includes(value);
    }
    if (typeof value !== "string") throw new Error(`${t.value} is an integer: only 'in' is modelled, in ${expr}`);
    let op: string;
    if (word("eq")) op = "eq";
    else if (word("strict")) {
      if (!word("wildcard")) throw new Error(`'strict' without 'wildcard' in ${expr}`);
      op = "strict wildcard";
    } else if (word("wildcard")) op = "wildcard";
    else throw new Error(`unknown operator ${JSON.stringify(peek())} in ${expr}`);
    const lit = tokens[pos++];
    if (lit?.kind !== "str") throw new Error(`expected a string after ${op} in ${expr}`);
    if (op === "eq") return value === lit.value;
    return wildcardMatch(lit.value, value, op === "strict wildcard");
  };
  const primary = (): boolean => {
    if (word("not")) return !primary();
    const t = peek();
    if (t?.kind === "paren" && t.value === "(") {
      pos++;
      const v = or();
      const close = tokens[pos++];
      if (close?.kind !== "paren" || close.value !== ")") throw new Error(`unbalanced parentheses in ${expr}`);
      return v;
    }
    return comparison();
  };
  const and = (): boolean => {
    let v = primary();
    while (word("and")) v = primary() && v;
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (word("or")) v = and() || v;
    return v;
  };
  const result = or();
  if (pos !== tokens.length) throw new Error(`trailing tokens in ${expr}`);
  return result;
}

export interface RuleLike {
  expression: string;
  actionParameters: { headers: Record<string, { operation: string; value?: string }> };
}

/**
 * Response headers after the phase runs: every matching rule applies, in order (a later `set` wins), starting from
 * what the origin sent. Rules that read the status see `r.status` (200 when absent).
 */
export function applyRules(
  rules: RuleLike[],
  r: Response,
  origin: Record<string, string> = {},
): { headers: Record<string, string>; matched: number } {
  const headers = { ...origin };
  let matched = 0;
  for (const rule of rules) {
    if (!evaluate(rule.expression, r)) continue;
    matched++;
    for (const [name, op] of Object.entries(rule.actionParameters.headers)) {
      if (op.operation === "set") headers[name] = op.value!;
      else if (op.operation === "remove") delete headers[name];
      else throw new Error(`unknown header operation ${op.operation}`);
    }
  }
  return { headers, matched };
}

export interface CacheRuleLike {
  expression: string;
  actionParameters: {
    cache?: boolean;
    edgeTtl?: {
      mode: string;
      default?: number;
      statusCodeTtls?: { statusCode?: number; statusCodeRange?: { from?: number; to?: number }; value: number }[];
    };
  };
}

/** What the edge does with a response: `bypass` (never looked up or stored), `origin` (no rule says), or a TTL. */
export type EdgeOutcome =
  { edge: "bypass" } | { edge: "origin" } | { edge: "stored"; ttl: number } | { edge: "not-stored" };

/**
 * The edge's decision for a request (cache rules run before the origin answers: their expressions see only the
 * request) whose origin answered with `status`.
 */
export function edgeCache(
  rules: CacheRuleLike[],
  r: Omit<Response, "mediaType" | "status">,
  status = 200,
): EdgeOutcome {
  const settings: CacheRuleLike["actionParameters"] = {};
  let matched = 0;
  for (const rule of rules) {
    if (!evaluate(rule.expression, r, "request")) continue;
    matched++;
    Object.assign(settings, rule.actionParameters);
  }
  if (matched === 0 || settings.cache === undefined) return { edge: "origin" };
  if (settings.cache === false) return { edge: "bypass" };
  const ttl = settings.edgeTtl;
  if (!ttl || ttl.mode !== "override_origin") return { edge: "origin" };
  const byStatus = ttl.statusCodeTtls?.find((s) =>
    s.statusCode !== undefined
      ? s.statusCode === status
      : status >= (s.statusCodeRange?.from ?? 100) && status <= (s.statusCodeRange?.to ?? 599),
  );
  const seconds = byStatus ? byStatus.value : ttl.default;
  if (seconds === undefined) throw new Error("override_origin without a default TTL");
  return seconds < 0 ? { edge: "not-stored" } : { edge: "stored", ttl: seconds };
}
