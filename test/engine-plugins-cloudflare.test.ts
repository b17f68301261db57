/**
 * The stand-in `cloudflare` plugin (engine/plugins/cloudflare) against the local Cloudflare API stand-in
 * (test/fakes/cloudflare-api.ts): the provider object driven directly through check/diff/create/read/update/delete
 * for every type the program declares, then the plugin started as the engine starts it and called over gRPC.
 * Every test ends with the fake's shape checks clean (no request or answer outside the model's fields).
 */
import * as net from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cloudflareProvider, GET_ZONE } from "../engine/plugins/cloudflare/provider";
import { isSecret, reveal, secret, UNKNOWN } from "../engine/plugins/wire";
import { FakeCloudflareApi } from "./fakes/cloudflare-api";
import { startPlugin, type PluginHandle } from "./helpers/plugin";

const ACCOUNT = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8";
const ZONE = "0123456789abcdef0123456789abcdef";
const urn = (type: string, name: string) => `urn:pulumi:dev::mauntic-infra::mauntic:cloudflare:X$${type}::${name}`;
const T = {
  hyperdrive: "cloudflare:index/hyperdriveConfig:HyperdriveConfig",
  kv: "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
  bucket: "cloudflare:index/r2Bucket:R2Bucket",
  cors: "cloudflare:index/r2BucketCors:R2BucketCors",
  lifecycle: "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle",
  domain: "cloudflare:index/r2CustomDomain:R2CustomDomain",
  ruleset: "cloudflare:index/ruleset:Ruleset",
};

const fake = new FakeCloudflareApi();
let baseUrl = "";
/** A listener standing in for the database origin Hyperdrive connects to, and a port nothing listens on. */
let origin: net.Server;
let originPort = 0;
let closedPort = 0;
let p: ReturnType<typeof cloudflareProvider>;

beforeAll(async () => {
  baseUrl = await fake.start();
  origin = net.createServer((s) => s.end());
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
  originPort = (origin.address() as net.AddressInfo).port;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
});
afterAll(async () => {
  await fake.stop();
  await new Promise((r) => origin.close(r));
});
beforeEach(() => {
  fake.reset();
  // The origin here is a bare TCP listener: the login check is proven against PostgreSQL in ...-origin.test.ts.
  fake.originCheck = "tcp";
  fake.addZone(ZONE, "mauntic.dev", "pro", ACCOUNT);
  p = cloudflareProvider({ CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl });
});
afterEach(() => {
  expect(fake.violations).toEqual([]);
});

const hyperdriveInputs = (port = originPort, limit = 20) => ({
  accountId: ACCOUNT,
  name: "mauntic-dev-hd-campaigns",
  origin: {
    scheme: "postgresql",
    host: "127.0.0.1",
    port,
    database: "mauntic",
    user: "campaigns",
    password: secret("pw-1"),
  },
  caching: { disabled: false, maxAge: 60, staleWhileRevalidate: 15 },
  originConnectionLimit: limit,
});

/** check then create, as the engine sequences them. */
async function up(type: string, name: string, inputs: object) {
  const c = await p.check(urn(type, name), {}, inputs);
  expect(c.failures).toBeUndefined();
  const r = await p.create(urn(type, name), c.inputs, false);
  return { id: r.id, inputs: c.inputs, outs: r.outs };
}

describe("HyperdriveConfig", () => {
  const U = urn(T.hyperdrive, "mauntic-dev-hd-campaigns");

  it("creates after Cloudflare's test connection to the origin, keeping the password secret and out of the API's answers", async () => {
    const { id, outs } = await up(T.hyperdrive, "mauntic-dev-hd-campaigns", hyperdriveInputs());
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(isSecret(outs.origin.password)).toBe(true);
    expect(reveal(outs.origin.password)).toBe("pw-1");
    expect(outs).toMatchObject({
      name: "mauntic-dev-hd-campaigns",
      originConnectionLimit: 20,
      caching: { maxAge: 60 },
    });
    expect(outs.createdOn).toMatch(/^\d{4}-/);
    const sent = fake.requests.find((r) => r.method === "POST")!.body as Record<string, any>;
    expect(sent).toMatchObject({ origin_connection_limit: 20, caching: { max_age: 60, stale_while_revalidate: 15 } });
    expect(sent.origin.password).toBe("pw-1");
    const got = await fetch(`${baseUrl}/accounts/${ACCOUNT}/hyperdrive/configs/${id}`, {
      headers: { authorization: `Bearer ${fake.token}` },
    });
    expect(JSON.stringify(await got.json())).not.toContain("pw-1");
  });

  it("fails the create with Cloudflare's 2011 when the origin refuses the connection, and stores nothing", async () => {
    await expect(p.create(U, hyperdriveInputs(closedPort), false)).rejects.toThrow(
      /400 Bad Request .*"code":2011,"message":"Connection refused\."/,
    );
    expect(fake.hyperdrive.size).toBe(0);
  });

  it("no-op diff on the same inputs; a limit change is an update; an account change a replacement; refresh sees an outside delete", async () => {
    const { id, outs } = await up(T.hyperdrive, "mauntic-dev-hd-campaigns", hyperdriveInputs());
    expect(await p.diff(id, U, outs, hyperdriveInputs())).toEqual({ changes: false, replaces: [] });
    expect(
      await p.diff(id, U, outs, {
        ...hyperdriveInputs(),
        origin: { ...hyperdriveInputs().origin, password: secret("pw-2") },
      }),
    ).toEqual({
      changes: true,
      replaces: [],
    });
    const news = hyperdriveInputs(originPort, 40);
    expect(await p.diff(id, U, outs, news)).toEqual({ changes: true, replaces: [] });
    const updated = (await p.update(id, U, outs, news, false)).outs;
    expect(updated.originConnectionLimit).toBe(40);
    expect(fake.hyperdrive.get(id)!.origin_connection_limit).toBe(40);
    expect(isSecret(updated.origin.password)).toBe(true);
    expect(await p.diff(id, U, updated, { ...news, accountId: "ffffffffffffffffffffffffffffffff" })).toEqual({
      changes: true,
      replaces: ["accountId"],
    });
    const refreshed = await p.read(id, U, updated);
    expect(refreshed.props).toEqual(updated);
    fake.hyperdrive.delete(id);
    expect(await p.read(id, U, updated)).toEqual({});
  });

  it("check holds originConnectionLimit to the schema's minimum: 5 passes, 4 fails naming it", async () => {
    expect((await p.check(U, {}, hyperdriveInputs(originPort, 5))).failures).toBeUndefined();
    expect((await p.check(U, {}, hyperdriveInputs(originPort, 4))).failures).toEqual([
      { property: "originConnectionLimit", reason: "originConnectionLimit must be at least 5, got 4" },
    ]);
  });

  it("previews a create without calling the API: computed outputs unknown", async () => {
    const r = await p.create(U, hyperdriveInputs(), true);
    expect(r.outs).toMatchObject({ createdOn: UNKNOWN, modifiedOn: UNKNOWN, name: "mauntic-dev-hd-campaigns" });
    const u = await p.update(
      "id",
      U,
      { ...hyperdriveInputs(), createdOn: "c", modifiedOn: "m" },
      hyperdriveInputs(originPort, 30),
      true,
    );
    expect(u.outs).toMatchObject({ createdOn: "c", modifiedOn: UNKNOWN, originConnectionLimit: 30 });
    expect(fake.requests).toEqual([]);
  });
});

describe("WorkersKvNamespace", () => {
  const U = urn(T.kv, "mauntic-dev-kv-cache");
  it("create, title update, delete, gone on refresh", async () => {
    const { id, outs } = await up(T.kv, "mauntic-dev-kv-cache", { accountId: ACCOUNT, title: "mauntic-dev-kv-cache" });
    expect(outs).toEqual({ accountId: ACCOUNT, title: "mauntic-dev-kv-cache", supportsUrlEncoding: true });
    expect(await p.diff(id, U, outs, { accountId: ACCOUNT, title: "mauntic-dev-kv-cache" })).toEqual({
      changes: false,
      replaces: [],
    });
    expect(await p.diff(id, U, outs, { accountId: ACCOUNT, title: "renamed" })).toEqual({
      changes: true,
      replaces: [],
    });
    const u = await p.update(id, U, outs, { accountId: ACCOUNT, title: "renamed" }, false);
    expect(u.outs.title).toBe("renamed");
    await p.delete(id, U, u.outs);
    expect(fake.kv.size).toBe(0);
    expect(await p.read(id, U, u.outs)).toEqual({});
  });
});

describe("R2 bucket, CORS, lifecycle, custom domain", () => {
  const bucket = { accountId: ACCOUNT, name: "mauntic-dev-assets", location: "enam", jurisdiction: "eu" };

  it("creates the bucket in its jurisdiction, with defaults the schema sets; name is a replacement, location is ignored", async () => {
    const U = urn(T.bucket, "mauntic-dev-assets");
    const { id, inputs, outs } = await up(T.bucket, "mauntic-dev-assets", bucket);
    expect(inputs.storageClass).toBe("Standard");
    expect(id).toBe("mauntic-dev-assets");
    expect(outs).toMatchObject({
      name: "mauntic-dev-assets",
      jurisdiction: "eu",
      location: "enam",
      storageClass: "Standard",
    });
    expect(fake.requests[0]).toMatchObject({
      method: "POST",
      jurisdiction: "eu",
      body: { name: "mauntic-dev-assets", locationHint: "enam" },
    });
    expect(fake.objects("mauntic-dev-assets", "eu")).toEqual([]);
    expect(await p.diff(id, U, outs, inputs)).toEqual({ changes: false, replaces: [] });
    expect(await p.diff(id, U, outs, { ...inputs, location: "weur" })).toEqual({ changes: false, replaces: [] });
    expect(await p.diff(id, U, outs, { ...inputs, name: "mauntic-dev-assets-2" })).toEqual({
      changes: true,
      replaces: ["name"],
    });
    // R2 refuses to delete a bucket with objects in it (what the preview emptier exists for).
    fake.buckets.get("eu/mauntic-dev-assets")!.add("u/1.png");
    await expect(p.delete(id, U, outs)).rejects.toThrow(/409 Conflict .*10008/);
    fake.buckets.get("eu/mauntic-dev-assets")!.clear();
    await p.delete(id, U, outs);
    expect(await p.read(id, U, outs)).toEqual({});
  });

  it("check names an unknown jurisdiction and a missing bucket name", async () => {
    const c = await p.check(urn(T.bucket, "b"), {}, { accountId: ACCOUNT, jurisdiction: "mars" });
    expect(c.failures).toEqual([
      { property: "name", reason: "Missing required argument: name" },
      { property: "jurisdiction", reason: 'jurisdiction must be one of default, eu, fedramp, got "mars"' },
    ]);
  });

  it("CORS and lifecycle are PUTs of camelCase rules; lifecycle's delete leaves the rules (the provider's Delete is empty)", async () => {
    await up(T.bucket, "mauntic-dev-assets", bucket);
    const onBucket = { accountId: ACCOUNT, bucketName: "mauntic-dev-assets", jurisdiction: "eu" };
    const corsRules = [
      {
        id: "uploads-from-app",
        allowed: { origins: ["https://app.mauntic.dev"], methods: ["GET", "PUT"], headers: ["content-type"] },
        exposeHeaders: ["ETag"],
        maxAgeSeconds: 3600,
      },
    ];
    const cors = await up(T.cors, "mauntic-dev-assets-cors", { ...onBucket, rules: corsRules });
    expect(cors.id).toBe(ACCOUNT);
    expect(fake.bucketMeta.get("eu/mauntic-dev-assets")!.cors).toEqual(corsRules);
    const CU = urn(T.cors, "mauntic-dev-assets-cors");
    expect(await p.diff(cors.id, CU, cors.outs, { ...onBucket, rules: corsRules })).toEqual({
      changes: false,
      replaces: [],
    });
    expect(
      await p.diff(cors.id, CU, cors.outs, { ...onBucket, rules: [{ ...corsRules[0], maxAgeSeconds: 60 }] }),
    ).toEqual({
      changes: true,
      replaces: [],
    });
    expect(await p.diff(cors.id, CU, cors.outs, { ...onBucket, bucketName: "other" })).toEqual({
      changes: true,
      replaces: ["bucketName"],
    });
    expect((await p.read(cors.id, CU, cors.outs)).props).toEqual(cors.outs);

    const lifecycleRules = [
      {
        id: "abort-incomplete-multipart-uploads",
        enabled: true,
        conditions: { prefix: "" },
        abortMultipartUploadsTransition: { condition: { type: "Age", maxAge: 604800 } },
      },
    ];
    const lc = await up(T.lifecycle, "mauntic-dev-assets-lifecycle", { ...onBucket, rules: lifecycleRules });
    expect(fake.bucketMeta.get("eu/mauntic-dev-assets")!.lifecycle).toEqual(lifecycleRules);
    const before = fake.requests.length;
    await p.delete(lc.id, urn(T.lifecycle, "x"), lc.outs);
    expect(fake.requests.length).toBe(before);
    await p.delete(cors.id, CU, cors.outs);
    expect(fake.bucketMeta.get("eu/mauntic-dev-assets")!.cors).toBeUndefined();
  });

  it("a rule the API does not know is refused with the model's field named", async () => {
    await up(T.bucket, "mauntic-dev-assets", bucket);
    await expect(
      p.create(
        urn(T.cors, "c"),
        {
          accountId: ACCOUNT,
          bucketName: "mauntic-dev-assets",
          jurisdiction: "eu",
          rules: [{ allowed: { origins: ["*"], methods: ["PATCH"] } }],
        },
        false,
      ),
    ).rejects.toThrow(/400 Bad Request/);
    expect(fake.violations.splice(0)).toEqual([expect.stringContaining("rules.0.allowed.methods.0")]);
  });

  it("custom domain: created in the zone, status read back; domain and zone are replacements, minTls an update", async () => {
    await up(T.bucket, "mauntic-dev-assets", bucket);
    const U = urn(T.domain, "mauntic-dev-assets-domain");
    const inputs = {
      accountId: ACCOUNT,
      bucketName: "mauntic-dev-assets",
      jurisdiction: "eu",
      domain: "assets.mauntic.dev",
      zoneId: ZONE,
      enabled: true,
      minTls: "1.2",
    };
    const d = await up(T.domain, "mauntic-dev-assets-domain", inputs);
    // The bridge's id for a type without one (pulumi-cloudflare resources.go resourcesWithMissingID).
    expect(d.id).toBe(`${ACCOUNT}__${ZONE}`);
    expect(d.outs).toMatchObject({
      zoneName: "mauntic.dev",
      status: { ownership: "active", ssl: "active" },
      minTls: "1.2",
    });
    expect(fake.requests.find((r) => r.method === "POST" && r.path.endsWith("/domains/custom"))!.body).toEqual({
      domain: "assets.mauntic.dev",
      zoneId: ZONE,
      enabled: true,
      minTLS: "1.2",
    });
    expect(await p.diff(d.id, U, d.outs, inputs)).toEqual({ changes: false, replaces: [] });
    expect(await p.diff(d.id, U, d.outs, { ...inputs, minTls: "1.3" })).toEqual({ changes: true, replaces: [] });
    expect(await p.diff(d.id, U, d.outs, { ...inputs, domain: "cdn.mauntic.dev" })).toEqual({
      changes: true,
      replaces: ["domain"],
    });
    const u = await p.update(d.id, U, d.outs, { ...inputs, minTls: "1.3" }, false);
    expect(u.outs.minTls).toBe("1.3");
    await expect(p.create(U, { ...inputs, domain: "assets.elsewhere.com" }, false)).rejects.toThrow(
      /not in zone mauntic\.dev/,
    );
    await p.delete(d.id, U, u.outs);
    expect(await p.read(d.id, U, u.outs)).toEqual({});
  });
});

describe("Ruleset", () => {
  const U = urn(T.ruleset, "mauntic-dev-ruleset-cache-headers");
  const rules = [
    {
      ref: "mauntic-dev-ruleset-tier-static",
      description: "cache tier static",
      expression: '(http.host eq "app.mauntic.dev")',
      action: "rewrite",
      actionParameters: {
        headers: {
          "Cache-Control": { operation: "set", value: "public, max-age=31536000" },
          "CDN-Cache-Control": { operation: "remove" },
        },
      },
      enabled: true,
    },
  ];
  const headerRuleset = {
    zoneId: ZONE,
    kind: "zone",
    phase: "http_response_headers_transform",
    name: "mauntic-dev-ruleset-cache-headers",
    description: "cache headers",
    rules,
  };

  it("creates the zone entrypoint with snake_case fields and header names kept as written; a second entrypoint for the phase is refused", async () => {
    const { id, outs } = await up(T.ruleset, "mauntic-dev-ruleset-cache-headers", headerRuleset);
    const sent = fake.requests.find((r) => r.method === "POST")!.body as Record<string, any>;
    expect(sent.rules[0].action_parameters.headers["Cache-Control"]).toEqual({
      operation: "set",
      value: "public, max-age=31536000",
    });
    expect(outs.rules[0]).toMatchObject({ ...rules[0], id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(outs.version).toBe("1");
    expect(await p.diff(id, U, outs, headerRuleset)).toEqual({ changes: false, replaces: [] });
    await expect(p.create(urn(T.ruleset, "another"), { ...headerRuleset, name: "another" }, false)).rejects.toThrow(
      "'zone' is not a valid value for kind because exceeded maximum number of zone rulesets for phase http_response_headers_transform",
    );
    expect(fake.rulesets.size).toBe(1);
  });

  it("a rule change is an update (a new version); name, kind, phase and zone are replacements", async () => {
    const { id, outs } = await up(T.ruleset, "mauntic-dev-ruleset-cache-headers", headerRuleset);
    const changed = { ...headerRuleset, rules: [{ ...rules[0], expression: '(http.host eq "www.mauntic.dev")' }] };
    expect(await p.diff(id, U, outs, changed)).toEqual({ changes: true, replaces: [] });
    const u = await p.update(id, U, outs, changed, false);
    expect(u.outs.version).toBe("2");
    expect(u.outs.rules[0].expression).toBe('(http.host eq "www.mauntic.dev")');
    for (const [k, v] of [
      ["name", "renamed"],
      ["kind", "custom"],
      ["phase", "http_request_cache_settings"],
      ["zoneId", "fedcba9876543210fedcba9876543210"],
    ] as const) {
      expect(await p.diff(id, U, u.outs, { ...changed, [k]: v })).toEqual({ changes: true, replaces: [k] });
    }
    expect((await p.read(id, U, u.outs)).props).toEqual(u.outs);
    fake.rulesets.clear();
    expect(await p.read(id, U, u.outs)).toEqual({});
  });

  it("cache settings: statusCodeTtls travels as the API's status_code_ttl and comes back under Pulumi's name", async () => {
    const settings = {
      zoneId: ZONE,
      kind: "zone",
      phase: "http_request_cache_settings",
      name: "mauntic-dev-ruleset-cache-settings",
      description: "cache settings",
      rules: [
        {
          ref: "tier-static",
          description: "static",
          expression: "true",
          action: "set_cache_settings",
          actionParameters: {
            cache: true,
            edgeTtl: {
              mode: "override_origin",
              default: 86400,
              statusCodeTtls: [{ statusCodeRange: { from: 400, to: 599 }, value: -1 }],
            },
            browserTtl: { mode: "respect_origin" },
          },
          enabled: true,
        },
      ],
    };
    const { outs } = await up(T.ruleset, "mauntic-dev-ruleset-cache-settings", settings);
    const sent = fake.requests.find((r) => r.method === "POST")!.body as Record<string, any>;
    expect(sent.rules[0].action_parameters.edge_ttl.status_code_ttl).toEqual([
      { status_code_range: { from: 400, to: 599 }, value: -1 },
    ]);
    expect(outs.rules[0].actionParameters).toEqual(settings.rules[0]!.actionParameters);
  });
});

describe("provider config, getZone, faults", () => {
  it("getZone reads the zone with its plan, in Pulumi's names", async () => {
    const z = (await p.invoke!(GET_ZONE, { zoneId: ZONE })).outputs;
    expect(z).toMatchObject({
      id: ZONE,
      zoneId: ZONE,
      name: "mauntic.dev",
      plan: { name: "Pro Website", legacyId: "pro" },
    });
  });

  it("retries a 429 after its Retry-After, and reports a wrong token as the API's 403", async () => {
    fake.faults = [{ status: 429, retryAfter: 0 }];
    const { id } = await up(T.kv, "k", { accountId: ACCOUNT, title: "t" });
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(fake.requests.filter((r) => r.method === "POST")).toHaveLength(2);
    const wrong = cloudflareProvider({ CLOUDFLARE_API_TOKEN: "nope", CLOUDFLARE_BASE_URL: baseUrl });
    await expect(wrong.create(urn(T.kv, "k"), { accountId: ACCOUNT, title: "t2" }, false)).rejects.toThrow(
      /403 Forbidden .*Authentication error/,
    );
  });

  it("Configure's cloudflare:apiToken/baseUrl win over the environment; without any token the error says how to set one", async () => {
    const q = cloudflareProvider({ CLOUDFLARE_API_TOKEN: "env-token", CLOUDFLARE_BASE_URL: "http://127.0.0.1:1" });
    await q.configure!({ apiToken: fake.token, baseUrl });
    expect((await q.create(urn(T.kv, "k"), { accountId: ACCOUNT, title: "t" }, false)).id).toMatch(/^[0-9a-f]{32}$/);
    const none = cloudflareProvider({});
    await expect(none.create(urn(T.kv, "k"), { accountId: ACCOUNT, title: "t" }, false)).rejects.toThrow(
      "cloudflare:apiToken",
    );
  });

  it("refuses a type the program does not declare, naming the ones it serves", async () => {
    await expect(p.check(urn("cloudflare:index/dnsRecord:DnsRecord", "d"), {}, {})).rejects.toThrow(
      /does not serve cloudflare:index\/dnsRecord:DnsRecord/,
    );
  });
});

describe("cloudflare plugin started as the engine starts it", () => {
  let plugin: PluginHandle;
  beforeAll(async () => {
    plugin = await startPlugin("cloudflare", { env: { CLOUDFLARE_API_TOKEN: "", CLOUDFLARE_BASE_URL: "" } });
  }, 60_000);
  afterAll(() => plugin?.stop());

  it("takes its token and URL from Configure and serves create, no-op diff, update, replacement, refresh after an outside delete, delete", async () => {
    expect(await plugin.pluginVersion()).toBe("6.22.1");
    expect(
      await plugin.configure({ "cloudflare:config:apiToken": fake.token, "cloudflare:config:baseUrl": baseUrl }),
    ).toMatchObject({
      supportsPreview: true,
    });
    const U = urn(T.hyperdrive, "mauntic-dev-hd-campaigns");
    const checked = await plugin.check(U, {}, hyperdriveInputs());
    expect(checked.failures).toEqual([]);
    const preview = await plugin.create(U, checked.inputs, true);
    expect(preview.props.createdOn).toBe(UNKNOWN);
    expect(fake.hyperdrive.size).toBe(0);
    const created = await plugin.create(U, checked.inputs);
    expect(isSecret(created.props.origin.password)).toBe(true);
    expect(await plugin.diff(created.id, U, created.props, checked.inputs)).toEqual({ changes: "none", replaces: [] });
    const news = hyperdriveInputs(originPort, 30);
    expect(await plugin.diff(created.id, U, created.props, news)).toEqual({ changes: "some", replaces: [] });
    const updated = await plugin.update(created.id, U, created.props, news);
    expect(updated.originConnectionLimit).toBe(30);
    expect(
      await plugin.diff(created.id, U, updated, { ...news, accountId: "ffffffffffffffffffffffffffffffff" }),
    ).toEqual({
      changes: "some",
      replaces: ["accountId"],
    });
    expect((await plugin.read(created.id, U, updated, news)).id).toBe(created.id);
    fake.hyperdrive.delete(created.id);
    expect(await plugin.read(created.id, U, updated, news)).toEqual({ id: "", props: undefined });
    const kv = await plugin.create(urn(T.kv, "k"), { accountId: ACCOUNT, title: "mauntic-dev-kv-cache" });
    await plugin.delete(kv.id, urn(T.kv, "k"), kv.props);
    expect(fake.kv.size).toBe(0);
  });

  it("answers the origin refusal and the duplicate entrypoint as failed gRPC calls carrying Cloudflare's message", async () => {
    await plugin.configure({ "cloudflare:config:apiToken": fake.token, "cloudflare:config:baseUrl": baseUrl });
    await expect(plugin.create(urn(T.hyperdrive, "h"), hyperdriveInputs(closedPort))).rejects.toThrow(
      /Connection refused\./,
    );
    const rs = { zoneId: ZONE, kind: "zone", phase: "http_request_cache_settings", name: "a", rules: [] };
    await plugin.create(urn(T.ruleset, "a"), rs);
    await expect(plugin.create(urn(T.ruleset, "b"), { ...rs, name: "b" })).rejects.toThrow(
      /exceeded maximum number of zone rulesets for phase http_request_cache_settings/,
    );
    expect((await plugin.invoke(GET_ZONE, { zoneId: ZONE })).plan.name).toBe("Pro Website");
  });
});
