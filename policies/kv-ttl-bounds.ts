import { stackOutputs, stackPolicy, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "kv-ttl-bounds",
  description:
    "Every KV cache-catalog key has a TTL of at least 60 s (Workers KV's minimum) and at most `maxTtlSeconds` (the notes' short-TTL safety net), and names what invalidates it.",
  why: "KV rejects a put with expirationTtl < 60, so the worker's cache write fails; a long TTL keeps stale data (a suppression, a session) alive when a write-through delete is missed.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "advisory" },
  remediation: "Change the key's `ttlSeconds` in `kv.catalog` (60..maxTtlSeconds) and list its `invalidatedOn` events.",
};

/** Workers KV: "expirationTtl ... minimum of 60 seconds" (developers.cloudflare.com/kv/api/write-key-value-pairs). */
export const KV_MIN_TTL_SECONDS = 60;

export const configSchema = {
  properties: {
    // The notes' table tops out at 1 hour (plan:{planId}); their prose says "1-15 minutes" for the rest.
    maxTtlSeconds: { type: "integer" as const, minimum: 60, default: 3600 },
  },
};

interface Entry {
  pattern?: string;
  ttlSeconds?: number;
  invalidatedOn?: string[];
}

export const kvTtlBounds = stackPolicy(
  meta,
  ({ resources, getConfig }, report) => {
    const catalog = (stackOutputs(resources).kvCatalog ?? {}) as Record<string, Entry>;
    const max = getConfig<{ maxTtlSeconds?: number }>().maxTtlSeconds ?? 3600;
    for (const [key, e] of Object.entries(catalog)) {
      const ttl = Number(e.ttlSeconds);
      if (!Number.isInteger(ttl) || ttl < KV_MIN_TTL_SECONDS) {
        report(
          `cache key ${key} (${e.pattern}): ttlSeconds ${String(e.ttlSeconds)} is below Workers KV's ${KV_MIN_TTL_SECONDS} s minimum`,
        );
      } else if (ttl > max) {
        report(`cache key ${key} (${e.pattern}): ttlSeconds ${ttl} exceeds the ${max} s safety net`);
      }
      if (!e.invalidatedOn?.length) report(`cache key ${key} (${e.pattern}) names no invalidating event`);
    }
  },
  configSchema,
);
