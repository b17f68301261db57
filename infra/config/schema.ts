/**
 * The one schema of a stack's config. Every cloud setting a component uses comes from here; components never
 * carry their own literals. Limits quoted in messages are the services' own (see DESIGN.md "Hard facts").
 */
import { z } from "zod";

/** Pulumi config namespace: the project name in Pulumi.yaml. */
export const CONFIG_NAMESPACE = "mauntic-infra";

/** Attach the "allowed" text that the error formatter prints after a custom issue. */
export function allowed(text: string): { allowed: string } {
  return { allowed: text };
}

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, "lowercase letters, digits and hyphens, starting with a letter, at most 31");
const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "a lowercase DNS hostname");
const cfId = z.string().regex(/^[0-9a-f]{32}$/, "a 32-character lowercase hex Cloudflare id");
const sqlIdentifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lowercase SQL identifier (a-z, 0-9, _), at most 63");

export const ENVIRONMENTS = ["prod", "dev", "preview"] as const;
export const HOST_KINDS = ["api", "assets", "landing", "tracking"] as const;
export const ZONE_PLANS = ["free", "pro", "business", "enterprise"] as const;

/** Neon compute sizes (CU) that the API accepts for autoscaling limits. */
// Neon's compute sizes live with the providers that check them too (they must not import this module).
import { NEON_CU } from "../neon/limits";
import { cdnMaxAge, MIN_EDGE_TTL_SECONDS } from "../cloudflare/limits";
export { NEON_CU };
export const NEON_REGIONS = [
  "aws-us-east-1",
  "aws-us-east-2",
  "aws-us-west-2",
  "aws-eu-central-1",
  "aws-eu-west-2",
  "aws-ap-southeast-1",
  "aws-ap-southeast-2",
  "aws-sa-east-1",
  "azure-eastus2",
  "azure-westus3",
  "azure-gwc",
] as const;
export const FLY_VM_SIZES = [
  "shared-cpu-1x",
  "shared-cpu-2x",
  "shared-cpu-4x",
  "shared-cpu-8x",
  "performance-1x",
  "performance-2x",
  "performance-4x",
  "performance-8x",
  "performance-16x",
] as const;
export const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

const cu = z.literal(NEON_CU);

const compute = z.strictObject({
  minCu: cu,
  maxCu: cu,
  /** -1 never suspends; 0 is Neon's default (5 min); otherwise 60..604800 s. */
  suspendTimeoutSeconds: z.number().int().min(-1).max(604800),
});

const hyperdriveCaching = z.strictObject({
  enabled: z.boolean(),
  /** Cloudflare caps a cached response's age at 3600 s. */
  maxAgeSeconds: z.number().int().min(0).max(3600).default(60),
  staleWhileRevalidateSeconds: z.number().int().min(0).max(3600).default(15),
});

const workerDatabase = z.strictObject({
  /** Schemas this worker's role may read (SELECT). */
  reads: z.array(sqlIdentifier).default([]),
  /** Schemas this worker's role may write (SELECT, INSERT, UPDATE, DELETE). */
  writes: z.array(sqlIdentifier).default([]),
  /** Analytics-style workers also get a Hyperdrive config pointing at the read replica. */
  readsReplica: z.boolean().default(false),
  /** Bump to rotate this worker's role password (its Hyperdrive config and Fly secrets follow in the same deploy). */
  passwordVersion: z.number().int().min(1).default(1),
  hyperdrive: z.strictObject({
    caching: hyperdriveCaching,
    /** Hyperdrive's origin connection limit: min 5; soft max ~20 (free) / ~100 (paid). */
    originConnectionLimit: z.number().int().min(5).max(100).default(10),
  }),
});

const worker = z.strictObject({
  description: z.string().optional(),
  /** Absent when the worker never talks to Postgres (the content worker serves R2). */
  database: workerDatabase.optional(),
  /**
   * The hosts of `cloudflare.hosts` this Worker serves (its wrangler routes). A request to such a host reaches the
   * Worker before the cache, so the cache tiers on it are handed to the Worker (bindings), never to zone rules.
   */
  routes: z.array(z.enum(HOST_KINDS)).default([]),
});

const kvEntry = z.strictObject({
  /** Key pattern, e.g. `provider:{orgId}:{channel}`. */
  pattern: z
    .string()
    .regex(
      /^[a-z][a-z0-9-]*(:\{[a-zA-Z][a-zA-Z0-9]*\})+$/,
      "prefix:{param}[:{param}...], e.g. provider:{orgId}:{channel}",
    ),
  data: z.string(),
  /** Workers KV rejects expirationTtl below 60 s. */
  ttlSeconds: z.number().int().min(60).max(31536000),
  /** What deletes the key before its TTL (write-through). */
  invalidatedOn: z.array(z.string().min(1)).min(1),
  namespace: name,
});

const r2Bucket = z.strictObject({
  /** Which host of `cloudflare.hosts` serves this bucket publicly, if any. */
  publicHost: z.enum(HOST_KINDS).optional(),
  /** Origins allowed to upload with presigned URLs (CORS). */
  corsOrigins: z
    .array(
      z
        .string()
        .regex(
          /^(https:\/\/[a-z0-9.-]+|http:\/\/localhost)(:\d+)?$/,
          "an https origin such as https://app.mauntic.io, or http://localhost:<port>",
        ),
    )
    .default([]),
  abortIncompleteUploadsAfterDays: z.number().int().min(1).max(365).default(7),
  boundTo: z.array(name).default([]),
});

const cacheTier = z.strictObject({
  description: z.string().optional(),
  host: z.enum(HOST_KINDS),
  /** URI path patterns; `*` matches any run of characters. */
  paths: z.array(z.string().regex(/^\/[^\s]*$/, "a path starting with /")).min(1),
  /** Optional extra condition on the response content type (e.g. text/html). */
  contentType: z.string().optional(),
  cacheControl: z.string().min(1),
  /** null: the CDN follows Cache-Control (no CDN-Cache-Control header is set). */
  cdnCacheControl: z.string().min(1).nullable(),
});

const queueWorker = z.strictObject({
  image: z.string().min(1),
  command: z.array(z.string()).min(1),
  queues: z.array(z.string().min(1)).min(1),
  count: z.number().int().min(0).max(20),
  vmSize: z.enum(FLY_VM_SIZES),
  memoryMb: z.number().int().min(256).max(65536).multipleOf(256),
  concurrency: z.number().int().min(1).max(1000).default(10),
  stopSignal: z.enum(STOP_SIGNALS).default("SIGTERM"),
  /** Fly's kill_timeout; must cover the longest job so a deploy never cuts one off. */
  stopTimeoutSeconds: z.number().int().min(1).max(300),
  longestJobSeconds: z.number().int().min(1),
  /** The catalogue worker whose database role this queue worker uses, if it needs Postgres. */
  databaseRole: name.optional(),
});

export const stackConfigSchema = z
  .strictObject({
    environment: z.enum(ENVIRONMENTS),
    cloudflare: z.strictObject({
      accountId: cfId,
      plan: z.enum(["free", "paid"]).default("paid"),
      zone: z.strictObject({
        name: hostname,
        zoneId: cfId,
        /**
         * The zone's plan, as the dashboard shows it: it sets the shortest edge TTL allowed
         * (infra/cloudflare/cache-settings.ts). Required: a default would decide the allowed TTLs for a zone nobody
         * looked at.
         */
        plan: z.enum(ZONE_PLANS),
      }),
      /** Only one stack may own a zone's entrypoint rulesets (http_request_cache_settings, http_response_headers_transform). */
      ownsResponseHeaderRuleset: z.boolean(),
      hosts: z.strictObject({ api: hostname, assets: hostname, landing: hostname, tracking: hostname }),
      /** Hyperdrive origin: Neon's pooler (the platform notes) or the direct host (Cloudflare's guide). */
      hyperdriveOrigin: z.enum(["pooled", "direct"]).default("pooled"),
    }),
    workers: z.record(name, worker),
    neon: z.strictObject({
      region: z.enum(NEON_REGIONS),
      postgresVersion: z.literal([14, 15, 16, 17]),
      databaseName: sqlIdentifier,
      /** The platform's schemas; every worker grant must name one of these. */
      schemas: z.array(sqlIdentifier).min(1),
      /** Point-in-time restore window; Neon allows up to 30 days on paid plans. */
      historyRetentionSeconds: z.number().int().min(0).max(2592000),
      primary: compute,
      replica: compute.extend({ enabled: z.boolean() }),
      /** The Neon organization (org-...), needed with a personal API key; an organization API key implies it. */
      orgId: z
        .string()
        .regex(
          /^[a-z0-9-]{1,60}$/,
          "is not a Neon organization id (allowed: lowercase letters, digits and '-', e.g. org-...)",
        )
        .optional(),
    }),
    kv: z.strictObject({
      namespaces: z.record(name, z.strictObject({ boundTo: z.array(name).min(1) })),
      catalog: z.record(name, kvEntry),
    }),
    r2: z.strictObject({
      locationHint: z.enum(["wnam", "enam", "weur", "eeur", "apac", "oc"]),
      jurisdiction: z.enum(["default", "eu", "fedramp"]).default("default"),
      buckets: z.record(name, r2Bucket),
    }),
    cacheTiers: z.record(name, cacheTier),
    fly: z.strictObject({
      org: z.string().regex(/^[a-z0-9-]+$/, "a Fly organization slug"),
      primaryRegion: z.string().regex(/^[a-z]{3}$/, "a three-letter Fly region code such as iad"),
      redis: z.strictObject({
        image: z.string().min(1),
        vmSize: z.enum(FLY_VM_SIZES),
        memoryMb: z.number().int().min(256).max(65536).multipleOf(256),
        volumeSizeGb: z.number().int().min(1).max(500),
        /** Replicas beside the primary, each on its own volume and host, failed over by 3 Sentinels; 0: one machine. */
        replicas: z.number().int().min(0).max(4).default(0),
      }),
      queueWorkers: z.record(name, queueWorker),
    }),
    preview: z.strictObject({
      /** Fully qualified stack whose Neon project preview branches fork, e.g. `mauntic/mauntic-infra/dev`. */
      parentStack: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "org/project/stack"),
      /** Neon branch TTL; Neon caps expires_at at 30 days. */
      branchTtlHours: z.number().int().min(1).max(720),
    }),
  })
  .superRefine(
    (cfg, ctx) => {
      // Cross-field rules run even when other fields failed (`when` below), so one run lists every problem. Each
      // rule runs on its own: a section that failed its shape check makes only that rule give up.
      const rule = (fn: () => void) => {
        try {
          fn();
        } catch {
          /* the shape errors of that section are reported already */
        }
      };
      // A missing or malformed section is reported by its shape check; the rules below must not trip over it.
      const workersOk = cfg.workers !== null && typeof cfg.workers === "object";
      const workerNames = workersOk ? Object.keys(cfg.workers) : [];
      const knownWorkers = workerNames.join(", ") || "(none)";
      const checkWorker = (w: string, path: (string | number)[]) => {
        if (workersOk && !cfg.workers[w]) {
          ctx.addIssue({ code: "custom", path, message: `unknown worker '${w}'`, params: allowed(knownWorkers) });
        }
      };

      rule(() => {
        for (const [wName, w] of Object.entries(cfg.workers)) {
          if (!w.database) continue;
          for (const field of ["reads", "writes"] as const) {
            (w.database[field] ?? []).forEach((schema, i) => {
              if (!cfg.neon.schemas.includes(schema)) {
                ctx.addIssue({
                  code: "custom",
                  path: ["workers", wName, "database", field, i],
                  message: `unknown schema '${schema}'`,
                  params: allowed(cfg.neon.schemas.join(", ")),
                });
              }
            });
          }
          if (w.database.readsReplica && !cfg.neon.replica.enabled && cfg.environment !== "preview") {
            ctx.addIssue({
              code: "custom",
              path: ["workers", wName, "database", "readsReplica"],
              message: "reads the replica but neon.replica.enabled is false",
              params: allowed("false, or enable the replica"),
            });
          }
          const softMax = cfg.cloudflare.plan === "free" ? 20 : 100;
          if (w.database.hyperdrive.originConnectionLimit > softMax) {
            ctx.addIssue({
              code: "custom",
              path: ["workers", wName, "database", "hyperdrive", "originConnectionLimit"],
              message: `${w.database.hyperdrive.originConnectionLimit} exceeds the ${cfg.cloudflare.plan} plan's limit`,
              params: allowed(`5..${softMax}`),
            });
          }
        }
      });
      rule(() => {
        for (const [ns, spec] of Object.entries(cfg.kv.namespaces)) {
          spec.boundTo.forEach((w, i) => checkWorker(w, ["kv", "namespaces", ns, "boundTo", i]));
        }
      });
      rule(() => {
        const patterns = new Map<string, string>();
        for (const [key, entry] of Object.entries(cfg.kv.catalog)) {
          if (!cfg.kv.namespaces[entry.namespace]) {
            ctx.addIssue({
              code: "custom",
              path: ["kv", "catalog", key, "namespace"],
              message: `unknown KV namespace '${entry.namespace}'`,
              params: allowed(Object.keys(cfg.kv.namespaces).join(", ") || "(none)"),
            });
          }
          const prefix = entry.pattern.split(":")[0]!;
          const clash = patterns.get(prefix);
          if (clash) {
            ctx.addIssue({
              code: "custom",
              path: ["kv", "catalog", key, "pattern"],
              message: `key prefix '${prefix}:' is already used by catalog entry '${clash}'`,
              params: allowed("a prefix no other entry uses"),
            });
          }
          patterns.set(prefix, key);
        }
      });
      rule(() => {
        for (const [b, spec] of Object.entries(cfg.r2.buckets)) {
          spec.boundTo.forEach((w, i) => checkWorker(w, ["r2", "buckets", b, "boundTo", i]));
        }
      });
      rule(() => {
        // The zone's plan sets the shortest edge TTL, for zone cache rules and Workers' cf alike (cloudflare/limits.ts).
        const min = MIN_EDGE_TTL_SECONDS[cfg.cloudflare.zone.plan];
        for (const [t, tier] of Object.entries(cfg.cacheTiers)) {
          const seconds = tier.cdnCacheControl === null ? undefined : cdnMaxAge(tier.cdnCacheControl);
          if (seconds !== undefined && seconds < min) {
            ctx.addIssue({
              code: "custom",
              path: ["cacheTiers", t, "cdnCacheControl"],
              message: `an edge TTL of ${seconds} s is below the ${cfg.cloudflare.zone.plan} zone plan's minimum`,
              params: allowed(`max-age >= ${min}, or cloudflare.zone.plan business or enterprise`),
            });
          }
        }
      });
      rule(() => {
        // Who serves each host: a Worker (its routes) or R2 straight through the cache (a bucket's custom domain).
        const r2Hosts = new Map<string, string>();
        for (const [b, spec] of Object.entries(cfg.r2.buckets)) if (spec.publicHost) r2Hosts.set(spec.publicHost, b);
        const workerHosts = new Set<string>();
        for (const [wName, w] of Object.entries(cfg.workers)) {
          (w.routes ?? []).forEach((host, i) => {
            workerHosts.add(host);
            const bucket = r2Hosts.get(host);
            if (bucket !== undefined) {
              ctx.addIssue({
                code: "custom",
                path: ["workers", wName, "routes", i],
                message: `host '${host}' is served straight from R2 (r2.buckets.${bucket}.publicHost), not by a Worker`,
                params: allowed(HOST_KINDS.filter((h) => !r2Hosts.has(h)).join(", ") || "(none)"),
              });
            }
          });
        }
        for (const [t, tier] of Object.entries(cfg.cacheTiers)) {
          if (!workerHosts.has(tier.host) && !r2Hosts.has(tier.host)) {
            ctx.addIssue({
              code: "custom",
              path: ["cacheTiers", t, "host"],
              message: `no Worker routes host '${tier.host}' and no R2 bucket serves it: the tier would take effect nowhere`,
              params: allowed(
                [...new Set([...workerHosts, ...r2Hosts.keys()])].sort().join(", ") ||
                  "a host in some workers.<name>.routes or r2.buckets.<name>.publicHost",
              ),
            });
          }
        }
      });
      rule(() => {
        const computes = [["primary", cfg.neon.primary] as const, ["replica", cfg.neon.replica] as const];
        for (const [which, c] of computes) {
          if (c.maxCu < c.minCu) {
            ctx.addIssue({
              code: "custom",
              path: ["neon", which, "maxCu"],
              message: `maxCu ${c.maxCu} is below minCu ${c.minCu}`,
              params: allowed(`>= ${c.minCu}`),
            });
          } else if (c.maxCu - c.minCu > 8) {
            ctx.addIssue({
              code: "custom",
              path: ["neon", which, "maxCu"],
              message: `autoscaling range ${c.minCu}..${c.maxCu} is wider than Neon allows`,
              params: allowed(`maxCu - minCu <= 8`),
            });
          }
          if (c.suspendTimeoutSeconds > 0 && c.suspendTimeoutSeconds < 60) {
            ctx.addIssue({
              code: "custom",
              path: ["neon", which, "suspendTimeoutSeconds"],
              message: `${c.suspendTimeoutSeconds} is not a Neon suspend timeout`,
              params: allowed("-1 (never), 0 (Neon default) or 60..604800"),
            });
          }
        }
      });
      rule(() => {
        if (cfg.environment === "prod" && cfg.neon.primary.suspendTimeoutSeconds !== -1) {
          ctx.addIssue({
            code: "custom",
            path: ["neon", "primary", "suspendTimeoutSeconds"],
            message: "the prod primary compute must never suspend",
            params: allowed("-1"),
          });
        }
      });
      rule(() => {
        // Preview branches fork dev's Neon project; a branch of prod would copy production data into a PR.
        const parent = cfg.preview.parentStack.split("/")[2];
        if (parent !== "dev") {
          ctx.addIssue({
            code: "custom",
            path: ["preview", "parentStack"],
            message: `preview branches fork the dev stack's Neon project, never '${parent}'`,
            params: allowed("<org>/<project>/dev"),
          });
        }
      });
      rule(() => {
        // Fly's sizing rules (docs, "Machine sizing"): memory per CPU 256..2048 MB shared, 2048..8192 MB
        // performance (a multiple of 2048 there).
        const sized = [
          [["fly", "redis", "memoryMb"], cfg.fly.redis] as const,
          ...Object.entries(cfg.fly.queueWorkers).map(([n, q]) => [["fly", "queueWorkers", n, "memoryMb"], q] as const),
        ];
        for (const [path, vm] of sized) {
          const [, kind, n] = /^(shared-cpu|performance)-(\d+)x$/.exec(vm.vmSize) ?? [];
          if (!kind) continue;
          const cpus = Number(n);
          const [min, max, step] = kind === "shared-cpu" ? [256, 2048, 256] : [2048, 8192, 2048];
          if (vm.memoryMb < min * cpus || vm.memoryMb > max * cpus || vm.memoryMb % step !== 0) {
            ctx.addIssue({
              code: "custom",
              path: [...path],
              message: `${vm.memoryMb} MB does not fit a ${vm.vmSize} machine`,
              params: allowed(`${min * cpus}..${max * cpus}, a multiple of ${step}`),
            });
          }
        }
      });
      rule(() => {
        for (const [qName, q] of Object.entries(cfg.fly.queueWorkers)) {
          if (q.stopTimeoutSeconds < q.longestJobSeconds) {
            ctx.addIssue({
              code: "custom",
              path: ["fly", "queueWorkers", qName, "stopTimeoutSeconds"],
              message: `${q.stopTimeoutSeconds} s does not cover the longest job (${q.longestJobSeconds} s): jobs would stall and rerun`,
              params: allowed(`>= ${q.longestJobSeconds}, at most 300 (split longer jobs)`),
            });
          }
          if (q.databaseRole !== undefined) {
            checkWorker(q.databaseRole, ["fly", "queueWorkers", qName, "databaseRole"]);
            if (cfg.workers[q.databaseRole] && !cfg.workers[q.databaseRole]!.database) {
              ctx.addIssue({
                code: "custom",
                path: ["fly", "queueWorkers", qName, "databaseRole"],
                message: `worker '${q.databaseRole}' has no database access`,
                params: allowed(workerNames.filter((w) => cfg.workers[w]!.database).join(", ")),
              });
            }
          }
        }
      });
    },
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  );

/** The stack config as the YAML states it (defaults not yet applied). */
export type StackConfigInput = z.input<typeof stackConfigSchema>;
/** The validated stack config every component receives. */
export type StackConfig = z.output<typeof stackConfigSchema>;
export type WorkerDatabaseConfig = NonNullable<StackConfig["workers"][string]["database"]>;
export type CacheTier = StackConfig["cacheTiers"][string];
/** Top-level config keys, each stored as `mauntic-infra:<key>` in Pulumi.<stack>.yaml. */
export const CONFIG_KEYS = Object.keys(stackConfigSchema.shape) as (keyof StackConfigInput)[];
