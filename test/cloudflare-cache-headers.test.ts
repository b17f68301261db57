import { describe, expect, it } from "vitest";
import { cacheRules, tierHeaders } from "../infra/cloudflare/cache-headers";
import {
  ExpressionError,
  hostCondition,
  pathCondition,
  patternsOverlap,
  quote,
  tierExpressions,
  wildcardLiteral,
} from "../infra/cloudflare/expression";
import { loadStackConfigFromFile } from "../infra/config/load";
import type { CacheTier } from "../infra/config/schema";
import { applyRules, evaluate, tokenize, wildcardMatch } from "./helpers/rules-eval";
import { ORIGIN, samples } from "./fixtures/cache-tier-samples";

/** The platform notes' "Cache tiers" table (seed/performance-notes.md): N/A means no CDN-Cache-Control. */
const NOTES_TABLE = {
  uploads: { cacheControl: "public, max-age=31536000, immutable", cdn: "max-age=86400" },
  "landing-html": { cacheControl: "public, max-age=300", cdn: "max-age=60" },
  "tracking-pixel": { cacheControl: "no-cache, no-store", cdn: undefined },
  "template-previews": { cacheControl: "private, no-cache", cdn: undefined },
  "api-responses": { cacheControl: "private, no-store", cdn: undefined },
} as const;

/** A committed stack's cache rules, built from its config as the program builds them. */
function stackRules(stack: "dev" | "prod", previewHosts = false) {
  const config = loadStackConfigFromFile(stack);
  return cacheRules({ stack, hosts: config.cloudflare.hosts, tiers: config.cacheTiers, previewHosts });
}

describe("cache tiers against the platform notes", () => {
  for (const stack of ["dev", "prod"] as const) {
    const config = loadStackConfigFromFile(stack);
    const rules = stackRules(stack);

    it(`${stack}: one rule per tier, each setting the notes' headers`, () => {
      expect(rules.map((r) => r.tier).sort()).toEqual(Object.keys(NOTES_TABLE).sort());
      for (const rule of rules) {
        const want = NOTES_TABLE[rule.tier as keyof typeof NOTES_TABLE];
        expect(rule.action).toBe("rewrite");
        expect(rule.actionParameters.headers["Cache-Control"]).toEqual({ operation: "set", value: want.cacheControl });
        expect(rule.actionParameters.headers["CDN-Cache-Control"]).toEqual(
          want.cdn === undefined ? { operation: "remove" } : { operation: "set", value: want.cdn },
        );
      }
    });

    it(`${stack}: a response of each tier ends with exactly that tier's headers, and only its rule matches`, () => {
      for (const [tier, response] of Object.entries(samples(config.cloudflare.hosts))) {
        const want = NOTES_TABLE[tier as keyof typeof NOTES_TABLE];
        const { headers, matched } = applyRules(rules, response, ORIGIN);
        expect({ tier, matched }).toEqual({ tier, matched: 1 });
        expect(headers["Cache-Control"]).toBe(want.cacheControl);
        expect(headers["CDN-Cache-Control"]).toBe(want.cdn);
      }
    });
  }

  it("template previews win over API responses whatever order the rules run in", () => {
    const rules = stackRules("prod");
    const order = rules.map((r) => r.tier);
    expect(order.indexOf("template-previews")).toBeGreaterThan(order.indexOf("api-responses"));
    const preview = { host: "api.mauntic.io", path: "/v1/templates/7/preview" };
    expect(applyRules([...rules].reverse(), preview, ORIGIN).headers["Cache-Control"]).toBe("private, no-cache");
    // Near misses stay API responses.
    for (const path of ["/v1/templates/7/preview/x", "/v1/templates/preview", "/V1/templates/7/preview"]) {
      expect(applyRules(rules, { host: "api.mauntic.io", path }).headers["Cache-Control"]).toBe("private, no-store");
    }
  });

  it("responses outside every tier keep the origin's headers (landing CSS, other hosts)", () => {
    const rules = stackRules("prod");
    for (const r of [
      { host: "pages.mauntic.io", path: "/site.css", mediaType: "text/css" },
      { host: "t.mauntic.io", path: "/click/abc" },
      { host: "app.mauntic.io", path: "/v1/contacts" },
      { host: "api.mauntic.io.evil.example", path: "/v1/contacts" },
    ]) {
      expect(applyRules(rules, r, ORIGIN)).toEqual({ headers: ORIGIN, matched: 0 });
    }
  });

  it("dev's rules also serve preview hosts pr-<N>-<host>; prod's do not", () => {
    const devRules = stackRules("dev", true);
    const preview = loadStackConfigFromFile("pr-42");
    for (const [tier, response] of Object.entries(samples(preview.cloudflare.hosts))) {
      const { headers, matched } = applyRules(devRules, response);
      expect({ tier, matched, cc: headers["Cache-Control"] }).toEqual({
        tier,
        matched: 1,
        cc: NOTES_TABLE[tier as keyof typeof NOTES_TABLE].cacheControl,
      });
    }
    // Not any host that merely ends like an API host.
    expect(applyRules(devRules, { host: "xpr-1-api.mauntic.dev", path: "/v1/x" }).matched).toBe(0);
    expect(applyRules(stackRules("prod"), { host: "pr-42-api.mauntic.io", path: "/v1/x" }).matched).toBe(0);
  });

  it("tierHeaders: null CDN-Cache-Control removes the header", () => {
    expect(tierHeaders({ cacheControl: "no-cache, no-store", cdnCacheControl: null })).toEqual({
      "Cache-Control": { operation: "set", value: "no-cache, no-store" },
      "CDN-Cache-Control": { operation: "remove" },
    });
  });
});

/** Hostile strings: quotes, backslashes (also trailing), wildcards, escape look-alikes, injection attempts. */
const HOSTILE = [
  'a"b',
  "a\\b",
  "trailing\\",
  '\\"',
  '"',
  "\\\\*",
  "*",
  "**",
  "\\*",
  '/x" or http.host eq "evil',
  '/x\\" or true or \\"',
  ") or (http.host eq ",
  'r#"raw"#',
  "ünïcødé/✓",
];

describe("the expression builder against hostile inputs", () => {
  it("quote() round-trips every hostile string through the language's string syntax", () => {
    for (const s of HOSTILE) {
      const tokens = tokenize(quote(s));
      expect(tokens).toEqual([{ kind: "str", value: s }]);
    }
  });

  it("quote() rejects control characters, which the language cannot escape", () => {
    for (const s of ["a\nb", "tab\there", "nul\u0000", "del\u007f"]) {
      expect(() => quote(s)).toThrow(/control character \(allowed: printable characters only\)/);
    }
  });

  it("wildcardLiteral(): `*` stays a wildcard (runs collapse, `**` is invalid), backslashes are literal", () => {
    expect(wildcardLiteral("/a/*")).toBe("/a/*");
    expect(wildcardLiteral("/a/**/b***")).toBe("/a/*/b*");
    expect(wildcardLiteral("/a\\b/*")).toBe("/a\\\\b/*");
    expect(wildcardLiteral("host*.example", { literal: true })).toBe("host\\*.example");
    expect(wildcardLiteral("a\\*b", { literal: true })).toBe("a\\\\\\*b");
  });

  it("a path condition built from a hostile pattern matches exactly the paths the pattern means", () => {
    const cases: [string, string[], string[]][] = [
      // [config pattern, paths it must match, paths it must not]
      ['/q"/*', ['/q"/', '/q"/x'], ["/q/x", '/Q"/x']],
      ["/a\\b/*", ["/a\\b/", "/a\\b/c"], ["/a\\\\b/c", "/ab/c"]],
      ["/end\\", ["/end\\"], ["/end", "/end\\\\"]],
      ["/x/**/y", ["/x//y", "/x/1/2/y"], ["/x/y", "/x/y/z"]],
      ['/x" or http.host eq "evil', ['/x" or http.host eq "evil'], ["/x", "/anything"]],
      ['/s\\"/*', ['/s\\"/t'], ['/s"/t', "/s\\/t"]],
    ];
    for (const [pattern, yes, no] of cases) {
      const expr = pathCondition(pattern);
      for (const path of yes)
        expect({ pattern, path, m: evaluate(expr, { host: "h", path }) }).toMatchObject({ m: true });
      for (const path of no)
        expect({ pattern, path, m: evaluate(expr, { host: "h", path }) }).toMatchObject({ m: false });
    }
  });

  it("an injection attempt stays one string literal: the expression has only the builder's own tokens", () => {
    const tiers: Record<string, CacheTier> = {
      evil: {
        host: "api",
        paths: ['/x" or http.host wildcard "*', '/y\\" or true or \\"', ") or (1 eq 1"],
        contentType: 'text/html" or "1',
        cacheControl: "private, no-store",
        cdnCacheControl: null,
      },
    };
    const [rule] = tierExpressions(tiers, { api: "api.example.com", assets: "a", landing: "l", tracking: "t" });
    const words = tokenize(rule!.expression)
      .filter((t) => t.kind === "word")
      .map((t) => t.value);
    expect(new Set(words)).toEqual(
      new Set([
        ...["http.host", "http.request.uri.path", "http.response.content_type.media_type"],
        // The content-type condition also admits a 304 (no Content-Type): `http.response.code in {304}`.
        ...["http.response.code", "eq", "in", "strict", "wildcard", "and", "or"],
      ]),
    );
    expect(evaluate(rule!.expression, { host: "api.example.com", path: "/other", mediaType: "text/html" })).toBe(false);
    expect(evaluate(rule!.expression, { host: "evil.example", path: '/x" or http.host wildcard "*' })).toBe(false);
  });

  it("host wildcards: a star in a hostname is literal, only the preview number is a wildcard", () => {
    const expr = hostCondition("a*b.example.com", { previewHosts: true });
    expect(evaluate(expr, { host: "pr-7-a*b.example.com", path: "/" })).toBe(true);
    expect(evaluate(expr, { host: "pr-7-axxb.example.com", path: "/" })).toBe(false);
    expect(evaluate(expr, { host: "a*b.example.com", path: "/" })).toBe(true);
    expect(wildcardMatch("pr-*-api.x", "PR-1-API.X", false)).toBe(true);
  });

  it("a tier with a content type keeps its headers on a 304, which carries no Content-Type", () => {
    const html: CacheTier = {
      host: "landing",
      paths: ["/*"],
      contentType: "text/html",
      cacheControl: "public, max-age=300",
      cdnCacheControl: "max-age=60",
    };
    const hosts = { api: "a", assets: "b", landing: "l.example", tracking: "t" };
    const [rule] = tierExpressions({ html }, hosts, { successOnly: () => true });
    const at = (status: number, mediaType?: string) =>
      evaluate(rule!.expression, { host: "l.example", path: "/spring", status, ...(mediaType ? { mediaType } : {}) });
    expect([at(200, "text/html"), at(304), at(304, "text/html")]).toEqual([true, true, true]);
    // Another type, and an error page of the right type, keep what the origin sent.
    expect([at(200, "text/css"), at(200), at(404, "text/html"), at(404)]).toEqual([false, false, false, false]);
  });

  it("content types compare lowercase and reject parameters", () => {
    const base = { host: "landing" as const, paths: ["/*"], cacheControl: "x", cdnCacheControl: null };
    const hosts = { api: "a", assets: "b", landing: "l.example", tracking: "t" };
    const [rule] = tierExpressions({ html: { ...base, contentType: "Text/HTML" } }, hosts);
    expect(evaluate(rule!.expression, { host: "l.example", path: "/p", mediaType: "text/html" })).toBe(true);
    expect(() => tierExpressions({ html: { ...base, contentType: "text/html; charset=utf-8" } }, hosts)).toThrow(
      /has parameters \(allowed: a bare media type/,
    );
  });

  it("two equally narrow tiers that can match one response are an error naming both", () => {
    const t = (paths: string[], contentType?: string): CacheTier => ({
      host: "api",
      paths,
      ...(contentType ? { contentType } : {}),
      cacheControl: "x",
      cdnCacheControl: null,
    });
    const hosts = { api: "api.example.com", assets: "a", landing: "l", tracking: "t" };
    expect(() => tierExpressions({ one: t(["/*"]), two: t(["/*"]) }, hosts)).toThrow(
      /cache tiers 'one' and 'two' match the same responses on host 'api'/,
    );
    expect(() => tierExpressions({ one: t(["/a/*"]), two: t(["/*/b"]) }, hosts)).toThrow(/'one' and 'two'/);
    // Same narrowness but disjoint: fine. Different content types: disjoint too.
    expect(tierExpressions({ one: t(["/a/*"]), two: t(["/b/*"]) }, hosts)).toHaveLength(2);
    expect(tierExpressions({ one: t(["/*"], "text/html"), two: t(["/*"], "image/png") }, hosts)).toHaveLength(2);
  });

  it("an expression over Cloudflare's 4096 characters is an error naming the tier; one at the limit passes", () => {
    // Cloudflare Rules language, "Maximum rule expression length": 4,096 characters
    // (developers.cloudflare.com/ruleset-engine/rules-language/expressions/).
    const CLOUDFLARE_MAX = 4096;
    const hosts = { api: "api.example.com", assets: "a", landing: "l", tracking: "t" };
    const tier = (n: number) => ({
      huge: {
        host: "api" as const,
        paths: Array.from({ length: n }, (_, i) => `/very/long/path/number/${i}/*`),
        cacheControl: "x",
        cdnCacheControl: null,
      },
    });
    // add paths one at a time until the expression is refused: the last accepted one fits, the refused one does not
    let accepted = 0;
    let n = 1;
    for (; ; n++) {
      try {
        accepted = tierExpressions(tier(n), hosts)[0]!.expression.length;
      } catch (e) {
        expect(e).toBeInstanceOf(ExpressionError);
        const m = /cache tier 'huge': its rule expression is (\d+) characters \(allowed: at most (\d+)/.exec(
          (e as Error).message,
        );
        expect(m, (e as Error).message).not.toBeNull();
        expect(Number(m![1])).toBeGreaterThan(CLOUDFLARE_MAX);
        expect(Number(m![2])).toBe(CLOUDFLARE_MAX);
        break;
      }
    }
    expect(accepted).toBeLessThanOrEqual(CLOUDFLARE_MAX);
    // refused only because of the limit: one more path adds less than 100 characters
    expect(accepted).toBeGreaterThan(CLOUDFLARE_MAX - 100);
  });

  it("patternsOverlap() decides whether two wildcard patterns share a path", () => {
    expect(patternsOverlap("/*", "/v1/templates/*/preview")).toBe(true);
    expect(patternsOverlap("/a/*", "/*/b")).toBe(true);
    expect(patternsOverlap("/a/*", "/b/*")).toBe(false);
    expect(patternsOverlap("/a", "/a")).toBe(true);
    expect(patternsOverlap("/a", "/a/")).toBe(false);
    expect(patternsOverlap("*x", "y*")).toBe(true);
  });
});
