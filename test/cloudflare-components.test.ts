/**
 * The Cloudflare components under Pulumi's mocks, fed a DatabaseConnection made of plain outputs (no dynamic
 * providers here, so this runs in vitest; the whole program goes through the CLI in cloudflare-plan.test.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCloudflare } from "../infra/cloudflare";
import { zoneRuleTiers } from "../infra/cloudflare/edge-cache";
import { WorkerHyperdrive } from "../infra/cloudflare/hyperdrive";
import { loadStackConfigFromFile } from "../infra/config/load";
import type { StackConfig } from "../infra/config/schema";
import type { DatabaseConnection } from "../infra/neon/connection";

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** Top-level inputs that arrived as secrets (mocks push nested secrets up to the top-level property). */
  secretInputs: string[];
}
const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const inputs: Record<string, any> = {};
        const secretInputs: string[] = [];
        for (const [k, v] of Object.entries(args.inputs as Record<string, any>)) {
          if (v && typeof v === "object" && v[SIG_KEY] === SECRET_SIG) {
            secretInputs.push(k);
            inputs[k] = v.value;
          } else inputs[k] = v;
        }
        registered.push({ type: args.type, name: args.name, inputs, secretInputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: () => ({}),
    },
    "mauntic-infra",
    "test",
    false,
  );
});

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));
/** Registration is asynchronous: wait until the outputs the components expose have resolved. */
const settle = () => new Promise((r) => setTimeout(r, 50));
/**
 * Resolves once every registration in flight has reached the mock monitor: the SDK keeps one promise chain of
 * outstanding resource RPCs (rpcKeepAlive) and `disconnect` drains it with waitForRPCs (@pulumi/pulumi
 * runtime/settings.js, exported there though not in its typings).
 */
const registrationsDone = (): Promise<void> =>
  (require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> }).waitForRPCs();

const HOSTS = {
  direct: "ep-quiet-sun-123456.us-east-2.aws.neon.tech",
  pooled: "ep-quiet-sun-123456-pooler.us-east-2.aws.neon.tech",
  replica: "ep-still-moon-654321.us-east-2.aws.neon.tech",
};

function fakeConnection(stack: string, config: StackConfig): DatabaseConnection {
  const role = (name: string) => ({
    user: pulumi.output(`mauntic_${stack.replace(/-/g, "_")}_${name}`),
    password: pulumi.secret(`pw-${name}`),
  });
  return {
    databaseName: config.neon.databaseName,
    port: 5432,
    directHost: pulumi.output(HOSTS.direct),
    pooledHost: pulumi.output(HOSTS.pooled),
    replicaHost: pulumi.output(HOSTS.replica),
    directUri: pulumi.secret("postgresql://x"),
    pooledUri: pulumi.secret("postgresql://x"),
    replicaUri: pulumi.secret("postgresql://x"),
    migrator: role("migrator"),
    workers: Object.fromEntries(
      Object.entries(config.workers)
        .filter(([, w]) => w.database)
        .map(([w]) => [w, role(w)]),
    ),
  };
}

const of = (type: string, prefix: string) =>
  registered.filter((r) => r.type === `cloudflare:index/${type}` && r.name.startsWith(prefix));

/** A stack's Hyperdrive component over its committed config, once its configs are registered. */
async function declareHyperdrive(stack: string, origin: StackConfig["cloudflare"]["hyperdriveOrigin"]) {
  const config = loadStackConfigFromFile(stack);
  const hd = new WorkerHyperdrive(`hd-${stack}`, {
    stack,
    accountId: config.cloudflare.accountId,
    origin,
    config,
    connection: fakeConnection(stack, config),
  });
  await value(hd.entries[0]!.id);
  await settle();
  return { config, hd, configs: of("hyperdriveConfig:HyperdriveConfig", `mauntic-${stack}-`) };
}

describe("Hyperdrive", () => {
  it("dev (pooled): one config per database worker + one replica config, own user, secret password, caching", async () => {
    const { config, hd, configs } = await declareHyperdrive("dev", "pooled");
    const byName = Object.fromEntries(configs.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(
      [
        "mauntic-dev-analytics-db",
        "mauntic-dev-analytics-replica-db",
        "mauntic-dev-crm-db",
        "mauntic-dev-delivery-db",
        "mauntic-dev-identity-db",
        "mauntic-dev-journey-db",
      ].sort(),
    );
    for (const [w, db] of Object.entries(config.workers)) {
      if (!db.database) continue;
      const c = byName[`mauntic-dev-${w}-db`]!;
      expect(c.inputs.name).toBe(`mauntic-dev-${w}-db`);
      expect(c.inputs.accountId).toBe(config.cloudflare.accountId);
      expect(c.secretInputs).toEqual(["origin"]);
      expect(c.inputs.origin).toEqual({
        scheme: "postgresql",
        host: HOSTS.pooled,
        port: 5432,
        database: "mauntic",
        user: `mauntic_dev_${w}`,
        password: `pw-${w}`,
      });
      expect(c.inputs.originConnectionLimit).toBe(db.database.hyperdrive.originConnectionLimit);
    }
    expect(byName["mauntic-dev-identity-db"]!.inputs.caching).toEqual({ disabled: true });
    expect(byName["mauntic-dev-delivery-db"]!.inputs.caching).toEqual({ disabled: true });
    expect(byName["mauntic-dev-crm-db"]!.inputs.caching).toEqual({
      disabled: false,
      maxAge: 60,
      staleWhileRevalidate: 15,
    });
    expect(byName["mauntic-dev-analytics-db"]!.inputs.caching).toEqual({
      disabled: false,
      maxAge: 300,
      staleWhileRevalidate: 60,
    });
    const replica = byName["mauntic-dev-analytics-replica-db"]!;
    expect(replica.inputs.origin).toMatchObject({
      host: "ep-still-moon-654321-pooler.us-east-2.aws.neon.tech",
      user: "mauntic_dev_analytics",
      password: "pw-analytics",
    });
    expect(replica.inputs.caching).toEqual(byName["mauntic-dev-analytics-db"]!.inputs.caching);
    expect(await value(hd.byWorker.analytics!.replica!.id)).toBe("mauntic-dev-analytics-replica-db-id");
    expect(hd.byWorker.identity!.replica).toBeUndefined();
  });

  it("origin mode direct: the endpoint hosts themselves", async () => {
    const { configs } = await declareHyperdrive("prod", "direct");
    expect(configs).toHaveLength(6);
    for (const c of configs) {
      expect(c.inputs.origin.host).toBe(c.name.includes("replica") ? HOSTS.replica : HOSTS.direct);
      expect(c.inputs.originConnectionLimit).toBe(20);
    }
  });

  it("a preview: one shared config, caching off, every worker binds it (analytics as DB and DB_REPLICA)", async () => {
    const { hd, configs } = await declareHyperdrive("pr-42", "pooled");
    expect(configs.map((c) => c.name)).toEqual(["mauntic-pr-42-shared-db"]);
    expect(configs[0]!.inputs.origin).toMatchObject({ host: HOSTS.pooled, user: "mauntic_pr_42_migrator" });
    expect(configs[0]!.inputs.caching).toEqual({ disabled: true });
    expect(Object.keys(hd.byWorker).sort()).toEqual(["analytics", "crm", "delivery", "identity", "journey"]);
    for (const slot of Object.values(hd.byWorker)) expect(slot.db.name).toBe("mauntic-pr-42-shared-db");
    expect(hd.byWorker.analytics!.replica!.name).toBe("mauntic-pr-42-shared-db");
  });
});

describe("the whole Cloudflare part of a stack", () => {
  it("dev: KV namespace, R2 buckets with lifecycle/CORS/domain, the cache-header ruleset, bindings", async () => {
    const config = loadStackConfigFromFile("dev");
    const out = buildCloudflare("dev", config, fakeConnection("dev", config));
    const bindings = await value(pulumi.output(out.bindings));
    await settle();

    expect(of("workersKvNamespace:WorkersKvNamespace", "mauntic-dev-").map((r) => r.inputs)).toEqual([
      { accountId: config.cloudflare.accountId, title: "mauntic-dev-cache" },
    ]);

    const buckets = of("r2Bucket:R2Bucket", "mauntic-dev-");
    expect(buckets.map((b) => b.inputs)).toEqual([
      { accountId: config.cloudflare.accountId, name: "mauntic-dev-assets", location: "enam", jurisdiction: "default" },
      {
        accountId: config.cloudflare.accountId,
        name: "mauntic-dev-imports",
        location: "enam",
        jurisdiction: "default",
      },
    ]);
    const lifecycles = of("r2BucketLifecycle:R2BucketLifecycle", "mauntic-dev-");
    expect(lifecycles).toHaveLength(2);
    for (const l of lifecycles) {
      expect(l.inputs.rules).toEqual([
        {
          id: "abort-incomplete-multipart-uploads",
          enabled: true,
          conditions: { prefix: "" },
          abortMultipartUploadsTransition: { condition: { type: "Age", maxAge: 86400 } },
        },
      ]);
    }
    const cors = Object.fromEntries(
      of("r2BucketCors:R2BucketCors", "mauntic-dev-").map((c) => [c.inputs.bucketName, c]),
    );
    expect(cors["mauntic-dev-assets"]!.inputs.rules[0].allowed.origins).toEqual([
      "https://app.mauntic.dev",
      "http://localhost:5173",
    ]);
    expect(cors["mauntic-dev-assets"]!.inputs.rules[0].allowed.methods).toContain("PUT");
    expect(cors["mauntic-dev-assets"]!.inputs.rules[0].exposeHeaders).toEqual(["ETag"]);
    expect(cors["mauntic-dev-imports"]!.inputs.rules[0].allowed.origins).toEqual(["https://app.mauntic.dev"]);
    expect(of("r2CustomDomain:R2CustomDomain", "mauntic-dev-").map((d) => d.inputs)).toEqual([
      {
        accountId: config.cloudflare.accountId,
        bucketName: "mauntic-dev-assets",
        jurisdiction: "default",
        domain: "assets.mauntic.dev",
        zoneId: config.cloudflare.zone.zoneId,
        enabled: true,
        minTls: "1.2",
      },
    ]);

    const rulesets = of("ruleset:Ruleset", "mauntic-dev-");
    expect(rulesets.map((r) => r.inputs.phase)).toEqual([
      "http_response_headers_transform",
      "http_request_cache_settings",
    ]);
    const ruleset = rulesets[0];
    expect(ruleset!.inputs).toMatchObject({
      zoneId: config.cloudflare.zone.zoneId,
      kind: "zone",
      phase: "http_response_headers_transform",
      name: "mauntic-dev-cache-headers",
    });
    // Rules only for the tiers R2 serves through the zone's cache (uploads); the Workers' tiers are in edgeCache.
    expect(Object.keys(zoneRuleTiers(config))).toEqual(["uploads"]);
    expect(ruleset!.inputs.rules).toHaveLength(1);
    expect(ruleset!.inputs.rules[0].expression).toContain('http.host wildcard "pr-*-');

    expect(bindings.crm).toEqual({
      hyperdrive: [{ binding: "DB", id: "mauntic-dev-crm-db-id", name: "mauntic-dev-crm-db" }],
      kvNamespaces: [{ binding: "CACHE", id: "mauntic-dev-cache-id", title: "mauntic-dev-cache" }],
      r2Buckets: [{ binding: "IMPORTS_BUCKET", bucketName: "mauntic-dev-imports" }],
    });
    expect(bindings.analytics!.hyperdrive.map((h) => [h.binding, h.name])).toEqual([
      ["DB", "mauntic-dev-analytics-db"],
      ["DB_REPLICA", "mauntic-dev-analytics-replica-db"],
    ]);
    expect(bindings.content).toEqual({
      hyperdrive: [],
      kvNamespaces: [{ binding: "CACHE", id: "mauntic-dev-cache-id", title: "mauntic-dev-cache" }],
      r2Buckets: [{ binding: "ASSETS_BUCKET", bucketName: "mauntic-dev-assets" }],
    });
    expect(out.hyperdriveBudget).toMatchObject({ thisStack: 6, previewSlots: 13 });
  });

  it("a preview never declares the zone ruleset; its buckets and domain carry the pr-<N> names", async () => {
    const config = loadStackConfigFromFile("pr-7");
    const out = buildCloudflare("pr-7", config, fakeConnection("pr-7", config));
    await value(pulumi.output(out.bindings));
    // "no ruleset" means something only once every registration the preview made has arrived
    await registrationsDone();
    expect(of("r2Bucket:R2Bucket", "mauntic-pr-7-")).toHaveLength(2);
    expect(of("ruleset:Ruleset", "mauntic-pr-7-")).toEqual([]);
    expect(out.cacheHeaders).toEqual({ owner: false, zone: "mauntic.dev" });
    expect(of("r2Bucket:R2Bucket", "mauntic-pr-7-").map((b) => b.inputs.name)).toEqual([
      "mauntic-pr-7-assets",
      "mauntic-pr-7-imports",
    ]);
    expect(of("r2CustomDomain:R2CustomDomain", "mauntic-pr-7-").map((d) => d.inputs.domain)).toEqual([
      "pr-7-assets.mauntic.dev",
    ]);
    expect(out.hyperdriveBudget).toMatchObject({ thisStack: 1, committedTotal: 12, previewSlots: 13 });
  });
});
