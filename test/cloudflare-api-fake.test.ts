/**
 * The Cloudflare API stand-in itself (test/fakes/cloudflare-api.ts), at the HTTP level: envelope, paging, the
 * vendor's refusals and their codes, answers that normalise what was sent, and the fault hooks other suites use.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeCloudflareApi } from "./fakes/cloudflare-api";

const ACCOUNT = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8";
const ZONE = "0123456789abcdef0123456789abcdef";
const fake = new FakeCloudflareApi();
let baseUrl = "";

beforeAll(async () => {
  baseUrl = await fake.start();
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  fake.addZone(ZONE, "mauntic.dev", "business", ACCOUNT);
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json", ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

describe("Cloudflare API stand-in", () => {
  it("answers in the v4 envelope and pages lists with page/per_page and result_info, at the boundary and one past it", async () => {
    for (let i = 0; i < 5; i++) {
      expect((await api("POST", `/accounts/${ACCOUNT}/storage/kv/namespaces`, { title: `ns-${i}` })).status).toBe(200);
    }
    const p1 = await api("GET", `/accounts/${ACCOUNT}/storage/kv/namespaces?per_page=2&page=1`);
    expect(p1.json).toMatchObject({ success: true, errors: [], messages: [] });
    expect(p1.json.result.map((n: any) => n.title)).toEqual(["ns-0", "ns-1"]);
    expect(p1.json.result_info).toEqual({ page: 1, per_page: 2, count: 2, total_count: 5, total_pages: 3 });
    const p3 = await api("GET", `/accounts/${ACCOUNT}/storage/kv/namespaces?per_page=2&page=3`);
    expect(p3.json.result.map((n: any) => n.title)).toEqual(["ns-4"]);
    const exact = await api("GET", `/accounts/${ACCOUNT}/storage/kv/namespaces?per_page=5`);
    expect(exact.json.result_info).toMatchObject({ count: 5, total_pages: 1 });
    const past = await api("GET", `/accounts/${ACCOUNT}/storage/kv/namespaces?per_page=4`);
    expect(past.json.result_info).toMatchObject({ count: 4, total_pages: 2 });
  });

  it("refuses a wrong token (403, 10000), an unknown config (404), a duplicate KV title and a duplicate bucket", async () => {
    const wrong = await fetch(`${baseUrl}/zones/${ZONE}`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as any).errors).toEqual([{ code: 10000, message: "Authentication error" }]);
    expect((await api("GET", `/accounts/${ACCOUNT}/hyperdrive/configs/${"a".repeat(32)}`)).status).toBe(404);
    await api("POST", `/accounts/${ACCOUNT}/storage/kv/namespaces`, { title: "same" });
    expect(
      (await api("POST", `/accounts/${ACCOUNT}/storage/kv/namespaces`, { title: "same" })).json.errors[0].code,
    ).toBe(10014);
    await api("POST", `/accounts/${ACCOUNT}/r2/buckets`, { name: "mauntic-dev-assets" });
    const again = await api("POST", `/accounts/${ACCOUNT}/r2/buckets`, { name: "mauntic-dev-assets" });
    expect(again.status).toBe(409);
    // Another jurisdiction is another namespace of names.
    expect(
      (
        await api(
          "POST",
          `/accounts/${ACCOUNT}/r2/buckets`,
          { name: "mauntic-dev-assets" },
          { "cf-r2-jurisdiction": "eu" },
        )
      ).status,
    ).toBe(200);
  });

  it("normalises what it echoes: R2 location upper-cased, rules stamped with id/version, Hyperdrive without its password", async () => {
    await api("POST", `/accounts/${ACCOUNT}/r2/buckets`, { name: "b-1", locationHint: "weur" });
    expect((await api("GET", `/accounts/${ACCOUNT}/r2/buckets/b-1`)).json.result).toMatchObject({
      location: "WEUR",
      storage_class: "Standard",
      jurisdiction: "default",
    });
    const rs = await api("POST", `/zones/${ZONE}/rulesets`, {
      kind: "zone",
      name: "n",
      phase: "http_request_cache_settings",
      rules: [{ action: "set_cache_settings", expression: "true", action_parameters: { cache: false } }],
    });
    expect(rs.json.result).toMatchObject({ version: "1", description: "", rules: [{ enabled: true, version: "1" }] });
    expect(rs.json.result.rules[0].id).toMatch(/^[0-9a-f]{32}$/);
    expect(
      (await api("GET", `/zones/${ZONE}/rulesets/phases/http_request_cache_settings/entrypoint`)).json.result.id,
    ).toBe(rs.json.result.id);
    expect((await api("GET", `/zones/${ZONE}`)).json.result.plan).toMatchObject({
      name: "Business Website",
      legacy_id: "business",
    });
    expect(fake.violations).toEqual([]);
  });

  it("refuses a field the provider's model does not have, naming it, and records the violation", async () => {
    const r = await api("POST", `/accounts/${ACCOUNT}/storage/kv/namespaces`, {
      title: "t",
      supportsUrlEncoding: true,
    });
    expect(r.status).toBe(400);
    expect(r.json.errors[0].message).toContain("supportsUrlEncoding");
    expect(fake.violations.splice(0)).toEqual([expect.stringContaining("POST kv namespace")]);
  });

  it("faults: a 429 carries Retry-After; a fault with `match` waits for its route and leaves others alone", async () => {
    fake.faults = [{ status: 429, retryAfter: 7 }];
    const limited = await api("GET", `/zones/${ZONE}`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.json.errors[0].code).toBe(971);
    fake.faults = [{ status: 503, match: /^POST .*\/hyperdrive\/configs$/ }];
    expect((await api("GET", `/zones/${ZONE}`)).status).toBe(200);
    expect(fake.faults).toHaveLength(1);
    const hit = await api("POST", `/accounts/${ACCOUNT}/hyperdrive/configs`, {});
    expect(hit.status).toBe(503);
    expect(fake.faults).toEqual([]);
  });
});
