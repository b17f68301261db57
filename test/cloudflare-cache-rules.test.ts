/**
 * The edge's own behaviour per cache tier where it takes effect: the zone rules (the http_request_cache_settings
 * ruleset and the success-only header rules) for the R2-served tier, evaluated with the tests' model of the rule
 * language (helpers/rules-eval.ts), and the Worker-served tiers' settings (the `cf` a Worker passes to fetch(),
 * modelled from the Workers docs): what the edge stores and for how long, per status, and what the browser sees.
 */
import { describe, expect, it } from "vitest";
import { cacheRules } from "../infra/cloudflare/cache-headers";
import {
  CACHE_SETTINGS_PHASE,
  cacheSettingsRules,
  edgeBehaviour,
  edgeTtlProblems,
  nonSuccessRanges,
} from "../infra/cloudflare/cache-settings";
import { workerEdgeCache, zoneRuleTiers, type WorkerTier } from "../infra/cloudflare/edge-cache";
import { ExpressionError, tierExpressions } from "../infra/cloudflare/expression";
import { ConfigError } from "../infra/config/errors";
import { loadStackConfigFromFile } from "../infra/config/load";
import type { CacheTier } from "../infra/config/schema";
import { applyRules, edgeCache, evaluate } from "./helpers/rules-eval";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, runCli } from "./helpers/cli";
import { ORIGIN, samples } from "./fixtures/cache-tier-samples";

/** The platform notes' edge column: CDN-Cache-Control max-age, or "must always hit origin / never cached". */
const EDGE = {
  uploads: { edge: "stored", ttl: 86400 },
  "landing-html": { edge: "stored", ttl: 60 },
  "tracking-pixel": { edge: "bypass" },
  "template-previews": { edge: "bypass" },
  "api-responses": { edge: "bypass" },
} as const;
/** Tiers on hosts R2 serves through the zone's cache: the only ones zone rules act on (the rest are Workers'). */
const ZONE_TIERS = ["uploads"];
const WORKER_TIERS = ["landing-html", "tracking-pixel", "template-previews", "api-responses"];
const CACHEABLE = ["uploads", "landing-html"];

function stackRules(stack: "dev" | "prod", previewHosts = false) {
  const config = loadStackConfigFromFile(stack);
  const args = { stack, hosts: config.cloudflare.hosts, tiers: zoneRuleTiers(config), previewHosts };
  return {
    config,
    settings: cacheSettingsRules({ ...args, zonePlan: config.cloudflare.zone.plan }),
    headers: cacheRules(args),
    workers: workerEdgeCache(config),
  };
}

/**
 * What the edge does with a Worker's fetch() of this status under its tier's `cf` (workers/runtime-apis/request:
 * `cacheTtlByStatus` keys are a status or a range "a-b"; "Any negative value instructs Cloudflare not to cache").
 */
function workerEdge(cf: WorkerTier["cf"], status: number): { edge: string; ttl?: number } {
  const hit = Object.entries(cf.cacheTtlByStatus).find(([k]) => {
    const [from, to = from] = k.split("-").map(Number);
    return status >= from! && status <= to!;
  });
  if (!hit || hit[1] < 0) return { edge: hit ? "not-stored" : "origin" };
  return { edge: "stored", ttl: hit[1] };
}
/** The tier's edge column from its Worker's settings (a 200; a bypass tier stores no status at all). */
function workerEdgeColumn(t: WorkerTier) {
  const ok = workerEdge(t.cf, 200);
  const stores = [100, 200, 206, 304, 404, 500, 599].some((s) => workerEdge(t.cf, s).edge === "stored");
  return stores ? ok : { edge: "bypass" };
}

describe("cache rules (http_request_cache_settings): the R2-served tiers' edge behaviour", () => {
  for (const stack of ["dev", "prod"] as const) {
    const { config, settings, headers } = stackRules(stack);

    it(`${stack}: one set_cache_settings rule per R2-served tier, in the header rules' order, reading request fields only`, () => {
      expect(CACHE_SETTINGS_PHASE).toBe("http_request_cache_settings");
      expect(settings.map((r) => r.tier)).toEqual(headers.map((r) => r.tier));
      expect(settings.map((r) => r.tier).sort()).toEqual(ZONE_TIERS);
      for (const r of settings) {
        expect(r.action).toBe("set_cache_settings");
        expect(r.expression).not.toContain("http.response.");
        // Same host and path conditions as the header rule of the tier (the one builder).
        const header = headers.find((h) => h.tier === r.tier)!;
        expect(header.expression.startsWith(r.expression.split(" and not ")[0]!)).toBe(true);
      }
    });

    it(`${stack}: a request of an R2-served tier gets the notes' edge TTL, and only its own rule matches`, () => {
      const s = samples(config.cloudflare.hosts);
      for (const tier of ZONE_TIERS) {
        const request = s[tier as keyof typeof s];
        expect({ tier, got: edgeCache(settings, request, 200) }).toEqual({ tier, got: EDGE[tier as keyof typeof EDGE] });
        const matching = settings.filter((r) => evaluate(r.expression, request, "request")).map((r) => r.tier);
        expect(matching).toEqual([tier]);
      }
    });

    it(`${stack}: the uploads tier stores 200 and 206 only; errors and redirects are never stored at the edge`, () => {
      const request = samples(config.cloudflare.hosts).uploads;
      for (const status of [200, 206]) expect(edgeCache(settings, request, status)).toEqual({ edge: "stored", ttl: 86400 });
      for (const status of [201, 204, 301, 302, 307, 400, 403, 404, 410, 429, 500, 502, 503, 599]) {
        expect({ status, got: edgeCache(settings, request, status) }).toEqual({ status, got: { edge: "not-stored" } });
      }
    });

    it(`${stack}: the uploads header rule applies to 200, 206 and 304 only`, () => {
      const sample = samples(config.cloudflare.hosts).uploads;
      for (const status of [200, 206, 304, 404, 500]) {
        const { headers: got, matched } = applyRules(headers, { ...sample, status }, ORIGIN);
        if (![200, 206, 304].includes(status)) {
          // No long-lived Cache-Control: the origin's response passes untouched (and the edge does not store it).
          expect({ status, matched, got }).toEqual({ status, matched: 0, got: ORIGIN });
        } else {
          expect({ status, matched }).toEqual({ status, matched: 1 });
          expect(got["Cache-Control"]).toBe(config.cacheTiers.uploads!.cacheControl);
        }
      }
    });
  }

  it("the 404 before an upload finishes: not stored at the edge, and never `immutable` for the browser", () => {
    const { settings, headers, config } = stackRules("prod");
    const pending = { host: config.cloudflare.hosts.assets, path: "/0c1d/pending.png", status: 404 };
    expect(edgeCache(settings, pending, 404)).toEqual({ edge: "not-stored" });
    expect(applyRules(headers, pending).headers["Cache-Control"]).toBeUndefined();
  });

  it("requests outside every R2-served tier are left to Cloudflare's defaults (no rule says anything)", () => {
    const { settings, config } = stackRules("prod");
    const s = samples(config.cloudflare.hosts);
    for (const r of [
      { host: "t.mauntic.io", path: "/click/abc" },
      { host: "app.mauntic.io", path: "/v1/contacts" },
      { host: "api.mauntic.io.evil.example", path: "/v1/contacts" },
      // Worker-served tiers: a zone rule would not act there, and none matches.
      ...WORKER_TIERS.map((t) => s[t as keyof typeof s]),
    ]) {
      expect(edgeCache(settings, r)).toEqual({ edge: "origin" });
    }
  });

  it("dev's cache rules also serve preview hosts pr-<N>-<host>; prod's do not", () => {
    const { settings } = stackRules("dev", true);
    const preview = loadStackConfigFromFile("pr-42");
    const s = samples(preview.cloudflare.hosts);
    for (const tier of ZONE_TIERS) {
      expect({ tier, got: edgeCache(settings, s[tier as keyof typeof s]) }).toEqual({
        tier,
        got: EDGE[tier as keyof typeof EDGE],
      });
    }
    expect(edgeCache(stackRules("prod").settings, { host: "pr-42-assets.mauntic.io", path: "/x.png" })).toEqual({
      edge: "origin",
    });
  });

  it("the model refuses a response field in a request-phase rule", () => {
    expect(() => evaluate("http.response.code in {200}", { host: "h", path: "/" }, "request")).toThrow(
      /response field/,
    );
    expect(evaluate("http.response.code in {200 206 304}", { host: "h", path: "/", status: 304 })).toBe(true);
    expect(evaluate("http.response.code in {200 206 304}", { host: "h", path: "/", status: 404 })).toBe(false);
  });
});

describe("Worker-served tiers: their settings in the Worker's edge-cache module", () => {
  for (const stack of ["dev", "prod"] as const) {
    const { config, workers } = stackRules(stack);

    it(`${stack}: each Worker tier's cf gives the notes' edge column; cacheable ones store 200 and 206 only`, () => {
      for (const [worker, tiers] of Object.entries(workers)) {
        for (const [tier, t] of Object.entries(tiers)) {
          expect({ worker, tier, got: workerEdgeColumn(t) }).toEqual({ worker, tier, got: EDGE[tier as keyof typeof EDGE] });
          if (!CACHEABLE.includes(tier)) continue;
          for (const status of [201, 204, 205, 207, 301, 303, 305, 404, 500, 599]) {
            expect({ tier, status, got: workerEdge(t.cf, status).edge }).toEqual({ tier, status, got: "not-stored" });
          }
          // A 304 (a revalidation) is left to the cache, as the zone rules leave it (nonSuccessRanges skips it).
          expect(workerEdge(t.cf, 304)).toEqual({ edge: "origin" });
        }
      }
      expect(Object.keys(workers.content ?? {}).sort()).toEqual(["api-responses", "landing-html", "template-previews"]);
    });

    it(`${stack}: the headers a Worker sets: success-only for cacheable tiers (a 304 included), every status else`, () => {
      for (const tiers of Object.values(workers)) {
        for (const [tier, t] of Object.entries(tiers)) {
          expect(t.headers["Cache-Control"]).toBe(config.cacheTiers[tier]!.cacheControl);
          expect(t.headers["CDN-Cache-Control"]).toBe(config.cacheTiers[tier]!.cdnCacheControl);
          expect(t.headerStatuses).toEqual(CACHEABLE.includes(tier) ? [200, 206, 304] : "all");
        }
      }
    });
  }
});

describe("edge behaviour from a tier's config", () => {
  const tier = (cacheControl: string, cdnCacheControl: string | null) => ({ cacheControl, cdnCacheControl });

  it("max-age in CDN-Cache-Control is the edge TTL; private/no-store/no-cache without one bypasses", () => {
    expect(edgeBehaviour("t", tier("public, max-age=300", "max-age=60"))).toEqual({ kind: "ttl", seconds: 60 });
    expect(edgeBehaviour("t", tier("x", "public, max-age=86400, stale-while-revalidate=60"))).toEqual({
      kind: "ttl",
      seconds: 86400,
    });
    for (const cc of ["private, no-store", "no-cache, no-store", "private, no-cache", "No-Store"]) {
      expect(edgeBehaviour("t", tier(cc, null))).toEqual({ kind: "bypass" });
    }
  });

  it("a tier that says nothing about the edge is a config error naming its path", () => {
    expect(() => edgeBehaviour("pages", tier("public, max-age=300", null))).toThrow(
      /config\.mauntic-infra:cacheTiers\.pages\.cdnCacheControl: null with Cache-Control .* says nothing about the edge/,
    );
    expect(() => edgeBehaviour("pages", tier("x", "s-maxage=60"))).toThrow(ConfigError);
    expect(() => edgeBehaviour("pages", tier("x", "s-maxage=60"))).toThrow(/has no max-age/);
  });

  it("an edge TTL under the zone plan's minimum is listed per tier (Free 2 h, Pro 1 h)", () => {
    const { cacheTiers } = loadStackConfigFromFile("prod");
    expect(edgeTtlProblems(cacheTiers, "business")).toEqual([]);
    expect(edgeTtlProblems(cacheTiers, "pro")).toEqual([
      "config.mauntic-infra:cacheTiers.landing-html.cdnCacheControl: an edge TTL of 60 s is below the pro zone " +
        "plan's minimum (allowed: >= 3600, or cloudflare.zone.plan business or enterprise)",
    ]);
    // A day is above even Free's two hours: only the landing tier is listed.
    expect(edgeTtlProblems(cacheTiers, "free")).toEqual([expect.stringContaining("landing-html.cdnCacheControl")]);
    expect(edgeTtlProblems(cacheTiers, "free")[0]).toContain("allowed: >= 7200");
  });

  it("non-success ranges cover 200..599 except 200, 206 and 304, without gaps or overlaps", () => {
    const ranges = nonSuccessRanges();
    const covered = new Set(ranges.flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i)));
    for (let s = 200; s <= 599; s++) expect({ s, in: covered.has(s) }).toEqual({ s, in: ![200, 206, 304].includes(s) });
    expect(ranges.reduce((n, r) => n + r.to - r.from + 1, 0)).toBe(covered.size);
  });

  it("two tiers told apart only by content type cannot be cache rules (the request has no content type)", () => {
    const t = (contentType?: string): CacheTier => ({
      host: "landing",
      paths: ["/*"],
      ...(contentType ? { contentType } : {}),
      cacheControl: "private, no-store",
      cdnCacheControl: null,
    });
    const hosts = { api: "a", assets: "b", landing: "l.example", tracking: "t" };
    const tiers = { html: t("text/html"), rest: t() };
    expect(tierExpressions(tiers, hosts)).toHaveLength(2);
    expect(() => tierExpressions(tiers, hosts, { phase: "request" })).toThrow(ExpressionError);
    expect(() => tierExpressions(tiers, hosts, { phase: "request" })).toThrow(/differ only by contentType/);
    expect(() => tierExpressions({ a: t("text/html"), b: t("image/png") }, hosts, { phase: "request" })).toThrow(
      /'a' and 'b'/,
    );
  });
});

describe("through the CLI", () => {
  it("a Pro zone with the 60 s landing tier: plan exits 2 naming the tier's path and the minimum", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-cf-rules-"));
    try {
      const file = path.join(tmp, "Pulumi.dev.yaml");
      fs.writeFileSync(
        file,
        fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").replace("plan: business", "plan: pro"),
      );
      const r = await runCli(["plan", "--stack", "dev", "--config-file", file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("config.mauntic-infra:cacheTiers.landing-html.cdnCacheControl: an edge TTL of 60 s");
      expect(r.stderr).toContain("allowed: max-age >= 3600");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
