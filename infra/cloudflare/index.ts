/**
 * The Cloudflare part of a stack: Hyperdrive per worker, KV and the cache catalog, R2, the zone's cache and
 * header rulesets for R2-served tiers (owning stack only), and per worker its bindings and the cache tiers of the
 * hosts it routes (edge-cache.ts). Consumes the Neon component's DatabaseConnection.
 */
import type * as pulumi from "@pulumi/pulumi";
import { committedStacks } from "../config/load";
import type { StackConfig } from "../config/schema";
import type { DatabaseConnection } from "../neon/connection";
import { resourceName } from "../naming";
import { DB_BINDING, r2BindingName, REPLICA_BINDING } from "./bindings";
import { hyperdriveBudget } from "./budget";
import { CacheHeaderRules } from "./cache-headers";
import { CacheSettingsRules } from "./cache-settings";
import { workerEdgeCache, zoneRuleTiers } from "./edge-cache";
import { WorkerHyperdrive } from "./hyperdrive";
import { KvCache } from "./kv";
import { AssetBuckets } from "./r2";
import { checkZoneOwnership } from "./zone-ownership";

export interface CloudflareOptions {
  /** Where the committed stack files are (zone ownership and the Hyperdrive budget read them all). */
  projectDir?: string;
  /** Resources the Hyperdrive configs wait for: the Neon component (its database and roles). */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export function buildCloudflare(
  stack: string,
  config: StackConfig,
  connection: DatabaseConnection,
  opts: CloudflareOptions = {},
) {
  const cf = config.cloudflare;
  // Both checks span every committed stack file (read once) and fail before anything is declared.
  const committed = committedStacks(opts.projectDir);
  checkZoneOwnership(stack, config, committed);
  const budget = hyperdriveBudget(stack, config, committed);

  const hyperdrive = new WorkerHyperdrive(resourceName(stack, "hyperdrive"), {
    stack,
    accountId: cf.accountId,
    origin: cf.hyperdriveOrigin,
    config,
    connection,
    dependsOn: opts.dependsOn,
  });
  const kv = new KvCache(resourceName(stack, "kv"), { stack, accountId: cf.accountId, kv: config.kv });
  const r2 = new AssetBuckets(resourceName(stack, "r2"), {
    stack,
    accountId: cf.accountId,
    zoneId: cf.zone.zoneId,
    hosts: cf.hosts,
    r2: config.r2,
  });
  // Zone rules act only where R2 serves a host straight through the cache; a Worker-served host's tiers go to
  // its Worker (edge-cache.ts). The zone-owning stack declares both entrypoints when any tier is R2-served.
  const zoneTiers = zoneRuleTiers(config);
  const declareZoneRules = cf.ownsResponseHeaderRuleset && Object.keys(zoneTiers).length > 0;
  const tierRules = {
    stack,
    zoneId: cf.zone.zoneId,
    hosts: cf.hosts,
    tiers: zoneTiers,
    previewHosts: config.environment === "dev",
  };
  const cacheHeaders = declareZoneRules
    ? new CacheHeaderRules(resourceName(stack, "cache-headers"), tierRules)
    : undefined;
  const cacheSettings = declareZoneRules
    ? new CacheSettingsRules(resourceName(stack, "cache-settings"), { ...tierRules, zonePlan: cf.zone.plan })
    : undefined;
  const edgeCache = workerEdgeCache(config);

  const bindings = Object.fromEntries(
    Object.keys(config.workers).map((w) => {
      const hd = hyperdrive.byWorker[w];
      return [
        w,
        {
          hyperdrive: hd
            ? [
                { binding: DB_BINDING, id: hd.db.id, name: hd.db.name },
                ...(hd.replica ? [{ binding: REPLICA_BINDING, id: hd.replica.id, name: hd.replica.name }] : []),
              ]
            : [],
          kvNamespaces: Object.values(kv.namespaces)
            .filter((ns) => ns.boundTo.includes(w))
            .map((ns) => ({ binding: ns.binding, id: ns.id, title: ns.title })),
          r2Buckets: Object.entries(r2.buckets)
            .filter(([, b]) => b.boundTo.includes(w))
            .map(([name, b]) => ({
              binding: r2BindingName(name),
              bucketName: b.bucketName,
              ...(b.jurisdiction ? { jurisdiction: b.jurisdiction } : {}),
            })),
        },
      ];
    }),
  );

  return {
    /** Every Hyperdrive config: name, role, the workers binding it, host and user (no password). */
    hyperdrive: hyperdrive.entries.map((e) => ({
      name: e.name,
      role: e.role,
      workers: e.workers,
      id: e.id,
      host: e.host,
      user: e.user,
    })),
    hyperdriveBudget: budget,
    kvCatalog: kv.catalog,
    r2Buckets: Object.fromEntries(
      Object.entries(r2.buckets).map(([k, b]) => [k, { bucketName: b.bucketName, publicDomain: b.publicDomain }]),
    ),
    cacheHeaders: cacheHeaders
      ? {
          owner: true,
          zone: cf.zone.name,
          rulesetId: cacheHeaders.rulesetId,
          tiers: cacheHeaders.rules.map((r) => r.tier),
        }
      : { owner: false, zone: cf.zone.name },
    cacheSettings: cacheSettings
      ? {
          owner: true,
          zone: cf.zone.name,
          rulesetId: cacheSettings.rulesetId,
          tiers: cacheSettings.rules.map((r) => r.tier),
        }
      : { owner: false, zone: cf.zone.name },
    bindings,
    /** Per worker, the cache tiers of the hosts it routes: headers and `cf` (bindings writes them as modules). */
    edgeCache,
  };
}
