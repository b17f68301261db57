/**
 * The resource types the program declares, each as terraform-provider-cloudflare v5 (tag v5.22.0,
 * internal/services/<name>/) implements it, with @pulumi/cloudflare 6.22.1's property names (its .d.ts):
 * which API calls create/read/update/delete make (resource.go), which JSON fields they send (model.go), which
 * inputs force a replacement (schema.go: RequiresReplace), and which fields are computed (filled by the API).
 */
import { CloudflareClient, jurisdictionHeader } from "./client";
import { reveal, secret, UNKNOWN } from "../wire";
import { RULESET_REPLACE_ON_CHANGES } from "../../../infra/cloudflare/limits";

export type Props = Record<string, any>;

export interface ResourceKind {
  token: string;
  /** Input names @pulumi/cloudflare declares for the type (its Args interface). */
  inputs: string[];
  required: string[];
  /** Inputs whose change replaces the resource (schema.go RequiresReplace). */
  replaceOnChanges: string[];
  /** Inputs whose change the provider ignores (a plan modifier keeps the state's value). */
  ignoreChanges?: string[];
  /** Outputs the API computes: unknown in the preview of a create, and of an update where `volatile`. */
  computed: string[];
  volatile?: string[];
  /** Defaults the schema sets (schema.go `Default:`), applied in check as the provider's plan does. */
  defaults?: Props;
  create(c: CloudflareClient, inputs: Props): Promise<{ id: string; outs: Props }>;
  /** The current outputs, or undefined when the resource is gone (Read: 404 -> RemoveResource). */
  read(c: CloudflareClient, id: string, state: Props): Promise<Props | undefined>;
  update(c: CloudflareClient, id: string, olds: Props, news: Props): Promise<Props>;
  delete(c: CloudflareClient, id: string, state: Props): Promise<void>;
}

/** Pulumi names whose Terraform (and API) name is not their snake_case (the bridge's pluralised list names). */
const RENAMES: Record<string, string> = {
  statusCodeTtls: "status_code_ttl",
  checkPresences: "check_presence",
  includes: "include",
  lists: "list",
};
const UNRENAMES = Object.fromEntries(Object.entries(RENAMES).map(([k, v]) => [v, k]));
/** Maps keyed by the user (header names): their keys are data, not field names. */
const DATA_KEYED = new Set(["headers"]);

const snake = (k: string) => RENAMES[k] ?? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string) => UNRENAMES[k] ?? k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Pulumi's camelCase values to the API's snake_case JSON (the bridge and the Terraform model together). */
export function toApi(v: unknown, dataKeys = false): unknown {
  if (Array.isArray(v)) return v.map((x) => toApi(x));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined && x !== null)
        .map(([k, x]) => [
          dataKeys ? k : snake(k),
          DATA_KEYED.has(k) && !dataKeys ? mapValues(x, (y) => toApi(y)) : toApi(x),
        ]),
    );
  }
  return v;
}

export function fromApi(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => fromApi(x));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined && x !== null)
        .map(([k, x]) => [camel(k), DATA_KEYED.has(k) ? mapValues(x, (y) => fromApi(y)) : fromApi(x)]),
    );
  }
  return v;
}

function mapValues(v: unknown, f: (x: unknown) => unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, f(x)]));
}

function defined(o: Props): Props {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}

// ---- Hyperdrive (hyperdrive_config/resource.go: Configs.New/Update/Get/Delete) ----

/** The origin as Pulumi shows it: the password stays the input's (the API never returns it) and secret
 * (schema.go: `password` Sensitive; the bridge makes sensitive values secret). */
function hyperdriveOuts(accountId: string, api: any, inputs: Props): Props {
  const origin: Props = { ...(fromApi(api.origin) as Props), password: secret(reveal(inputs.origin?.password)) };
  if (inputs.origin?.accessClientSecret !== undefined)
    origin.accessClientSecret = secret(reveal(inputs.origin.accessClientSecret));
  return defined({
    accountId,
    name: api.name,
    origin,
    originConnectionLimit: api.origin_connection_limit,
    caching: api.caching ? fromApi(api.caching) : undefined,
    mtls: api.mtls ? fromApi(api.mtls) : undefined,
    createdOn: api.created_on,
    modifiedOn: api.modified_on,
  });
}

function hyperdriveBody(inputs: Props): unknown {
  const plain = reveal<Props>(inputs);
  return toApi({
    name: plain.name,
    origin: plain.origin,
    originConnectionLimit: plain.originConnectionLimit,
    caching: plain.caching,
    mtls: plain.mtls,
  });
}

export const hyperdriveConfig: ResourceKind = {
  token: "cloudflare:index/hyperdriveConfig:HyperdriveConfig",
  inputs: ["accountId", "caching", "mtls", "name", "origin", "originConnectionLimit"],
  required: ["accountId", "name", "origin"],
  replaceOnChanges: ["accountId"], // schema.go: account_id RequiresReplace
  computed: ["createdOn", "modifiedOn"],
  volatile: ["modifiedOn"],
  defaults: { caching: { disabled: false } }, // schema.go caching.disabled Default false
  async create(c, inputs) {
    const accountId = reveal<string>(inputs.accountId);
    const { result } = await c.call("POST", `/accounts/${accountId}/hyperdrive/configs`, hyperdriveBody(inputs));
    return { id: result.id, outs: hyperdriveOuts(accountId, result, inputs) };
  },
  async read(c, id, state) {
    const accountId = reveal<string>(state.accountId);
    const result = await c.find(`/accounts/${accountId}/hyperdrive/configs/${id}`);
    return result && hyperdriveOuts(accountId, result, state);
  },
  async update(c, id, _olds, news) {
    const accountId = reveal<string>(news.accountId);
    const { result } = await c.call("PUT", `/accounts/${accountId}/hyperdrive/configs/${id}`, hyperdriveBody(news));
    return hyperdriveOuts(accountId, result, news);
  },
  async delete(c, id, state) {
    await c.call("DELETE", `/accounts/${reveal(state.accountId)}/hyperdrive/configs/${id}`);
  },
};

// ---- Workers KV (workers_kv_namespace/resource.go: KV.Namespaces.New/Update/Get/Delete) ----

export const workersKvNamespace: ResourceKind = {
  token: "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
  inputs: ["accountId", "title"],
  required: ["accountId", "title"],
  replaceOnChanges: ["accountId"], // schema.go: account_id RequiresReplace; a title change is an update (PUT)
  computed: ["supportsUrlEncoding"],
  async create(c, inputs) {
    const accountId = reveal<string>(inputs.accountId);
    const { result } = await c.call("POST", `/accounts/${accountId}/storage/kv/namespaces`, {
      title: reveal(inputs.title),
    });
    return {
      id: result.id,
      outs: { accountId, title: result.title, supportsUrlEncoding: result.supports_url_encoding },
    };
  },
  async read(c, id, state) {
    const accountId = reveal<string>(state.accountId);
    const result = await c.find(`/accounts/${accountId}/storage/kv/namespaces/${id}`);
    return result && { accountId, title: result.title, supportsUrlEncoding: result.supports_url_encoding };
  },
  async update(c, id, _olds, news) {
    const accountId = reveal<string>(news.accountId);
    const { result } = await c.call("PUT", `/accounts/${accountId}/storage/kv/namespaces/${id}`, {
      title: reveal(news.title),
    });
    return { accountId, title: result.title, supportsUrlEncoding: result.supports_url_encoding };
  },
  async delete(c, id, state) {
    await c.call("DELETE", `/accounts/${reveal(state.accountId)}/storage/kv/namespaces/${id}`);
  },
};

// ---- R2 (r2_bucket, r2_bucket_cors, r2_bucket_lifecycle, r2_custom_domain resource.go) ----

function bucketOuts(accountId: string, api: any, inputs: Props): Props {
  return defined({
    accountId,
    name: api.name,
    // schema.go location: a plan modifier keeps the configured/state value; the API answers it upper-cased.
    location: inputs.location ?? api.location,
    jurisdiction: inputs.jurisdiction ?? api.jurisdiction ?? "default",
    storageClass: api.storage_class ?? inputs.storageClass ?? "Standard",
    creationDate: api.creation_date,
  });
}

export const r2Bucket: ResourceKind = {
  token: "cloudflare:index/r2Bucket:R2Bucket",
  inputs: ["accountId", "jurisdiction", "location", "name", "storageClass"],
  required: ["accountId", "name"],
  // schema.go: id, name, account_id RequiresReplace; location RequiresReplaceIfConfigured, but
  // locationIgnorePlanModifier keeps the state's value, so a changed location plans no change at all.
  replaceOnChanges: ["accountId", "name"],
  ignoreChanges: ["location"],
  computed: ["creationDate"],
  defaults: { jurisdiction: "default", storageClass: "Standard" },
  async create(c, inputs) {
    const p = reveal<Props>(inputs);
    const body = defined({ name: p.name, locationHint: p.location, storageClass: p.storageClass });
    const h = jurisdictionHeader(p.jurisdiction);
    await c.call("POST", `/accounts/${p.accountId}/r2/buckets`, body, h);
    // The create answer lacks storage_class/jurisdiction; the provider reads them back (Read) on the next refresh.
    const result = await c.find(`/accounts/${p.accountId}/r2/buckets/${p.name}`, h);
    return { id: p.name, outs: bucketOuts(p.accountId, result ?? { name: p.name }, inputs) };
  },
  async read(c, id, state) {
    const p = reveal<Props>(state);
    const result = await c.find(`/accounts/${p.accountId}/r2/buckets/${id}`, jurisdictionHeader(p.jurisdiction));
    return result && bucketOuts(p.accountId, result, state);
  },
  async update(c, id, _olds, news) {
    // Edit: PATCH with the storage class in a header (r2_bucket/resource.go Update, R2StorageClassHTTPHeaderName).
    const p = reveal<Props>(news);
    const { result } = await c.call("PATCH", `/accounts/${p.accountId}/r2/buckets/${id}`, undefined, {
      ...jurisdictionHeader(p.jurisdiction),
      "cf-r2-storage-class": p.storageClass ?? "Standard",
    });
    return bucketOuts(p.accountId, result, news);
  },
  async delete(c, id, state) {
    const p = reveal<Props>(state);
    await c.call("DELETE", `/accounts/${p.accountId}/r2/buckets/${id}`, undefined, jurisdictionHeader(p.jurisdiction));
  },
};

/**
 * The id the bridge gives resources whose Terraform schema has none (pulumi-cloudflare provider/resources.go,
 * resourcesWithMissingID, which lists r2_bucket_cors, r2_bucket_lifecycle and r2_custom_domain): the account id,
 * the zone id, or both joined by "__".
 */
export function missingId(inputs: Props): string {
  const account = reveal<string | undefined>(inputs.accountId);
  const zone = reveal<string | undefined>(inputs.zoneId);
  if (account && zone) return `${account}__${zone}`;
  return account ?? zone ?? "id";
}

/** CORS and lifecycle share a shape: a PUT of `{rules}` on a bucket's sub-path (Buckets.CORS/Lifecycle.Update). */
function bucketRules(token: string, sub: "cors" | "lifecycle", deletes: boolean): ResourceKind {
  const path = (p: Props) => `/accounts/${p.accountId}/r2/buckets/${p.bucketName}/${sub}`;
  const outs = (inputs: Props, rules: unknown) =>
    defined({
      accountId: reveal(inputs.accountId),
      bucketName: reveal(inputs.bucketName),
      jurisdiction: reveal(inputs.jurisdiction) ?? "default",
      rules,
    });
  const put = async (c: CloudflareClient, inputs: Props) => {
    const p = reveal<Props>(inputs);
    // Field names as model.go sends them: camelCase for R2's CORS and lifecycle bodies (json:"exposeHeaders").
    await c.call("PUT", path(p), { rules: p.rules ?? [] }, jurisdictionHeader(p.jurisdiction));
    return outs(inputs, p.rules);
  };
  return {
    token,
    inputs: ["accountId", "bucketName", "jurisdiction", "rules"],
    required: ["accountId", "bucketName"],
    replaceOnChanges: ["accountId", "bucketName"], // schema.go: account_id, bucket_name RequiresReplace
    computed: [],
    defaults: { jurisdiction: "default" },
    async create(c, inputs) {
      return { id: missingId(inputs), outs: await put(c, inputs) };
    },
    async read(c, _id, state) {
      const p = reveal<Props>(state);
      const result = await c.find(path(p), jurisdictionHeader(p.jurisdiction));
      return result && outs(state, result.rules ?? []);
    },
    async update(c, _id, _olds, news) {
      return put(c, news);
    },
    async delete(c, _id, state) {
      // r2_bucket_lifecycle/resource.go Delete is empty: the rules stay on the bucket until it goes.
      if (!deletes) return;
      const p = reveal<Props>(state);
      await c.call("DELETE", path(p), undefined, jurisdictionHeader(p.jurisdiction));
    },
  };
}

export const r2BucketCors = bucketRules("cloudflare:index/r2BucketCors:R2BucketCors", "cors", true);
export const r2BucketLifecycle = bucketRules(
  "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle",
  "lifecycle",
  false,
);

function domainOuts(inputs: Props, api: any): Props {
  const p = reveal<Props>(inputs);
  return defined({
    accountId: p.accountId,
    bucketName: p.bucketName,
    jurisdiction: p.jurisdiction ?? "default",
    domain: api.domain ?? p.domain,
    zoneId: api.zoneId ?? p.zoneId,
    enabled: api.enabled,
    minTls: api.minTLS ?? p.minTls,
    ciphers: api.ciphers ?? p.ciphers,
    zoneName: api.zoneName,
    status: api.status,
  });
}

export const r2CustomDomain: ResourceKind = {
  token: "cloudflare:index/r2CustomDomain:R2CustomDomain",
  inputs: ["accountId", "bucketName", "ciphers", "domain", "enabled", "jurisdiction", "minTls", "zoneId"],
  required: ["accountId", "bucketName", "domain", "enabled", "zoneId"],
  // schema.go: account_id, bucket_name, domain, zone_id RequiresReplace.
  replaceOnChanges: ["accountId", "bucketName", "domain", "zoneId"],
  computed: ["zoneName", "status"],
  defaults: { jurisdiction: "default" },
  async create(c, inputs) {
    const p = reveal<Props>(inputs);
    const base = `/accounts/${p.accountId}/r2/buckets/${p.bucketName}/domains/custom`;
    const h = jurisdictionHeader(p.jurisdiction);
    await c.call(
      "POST",
      base,
      defined({ domain: p.domain, zoneId: p.zoneId, enabled: p.enabled, minTLS: p.minTls, ciphers: p.ciphers }),
      h,
    );
    // resource.go Create reads the domain back (Custom.Get) for zone_name and status.
    const result = await c.find(`${base}/${encodeURIComponent(p.domain)}`, h);
    return { id: missingId(inputs), outs: domainOuts(inputs, result ?? {}) };
  },
  // The id is the bridge's account__zone (missingId), so the domain comes from the state, as the provider's does.
  async read(c, _id, state) {
    const p = reveal<Props>(state);
    const result = await c.find(
      `/accounts/${p.accountId}/r2/buckets/${p.bucketName}/domains/custom/${encodeURIComponent(p.domain)}`,
      jurisdictionHeader(p.jurisdiction),
    );
    return result && domainOuts(state, result);
  },
  async update(c, _id, olds, news) {
    const p = reveal<Props>(news);
    const domain = reveal<string>(olds.domain);
    const path = `/accounts/${p.accountId}/r2/buckets/${p.bucketName}/domains/custom/${encodeURIComponent(domain)}`;
    const h = jurisdictionHeader(p.jurisdiction);
    await c.call("PUT", path, defined({ enabled: p.enabled, minTLS: p.minTls, ciphers: p.ciphers }), h);
    return domainOuts(news, (await c.find(path, h)) ?? {});
  },
  async delete(c, _id, state) {
    const p = reveal<Props>(state);
    await c.call(
      "DELETE",
      `/accounts/${p.accountId}/r2/buckets/${p.bucketName}/domains/custom/${encodeURIComponent(p.domain)}`,
      undefined,
      jurisdictionHeader(p.jurisdiction),
    );
  },
};

// ---- Rulesets (ruleset/resource.go: Rulesets.New/Update/Get/Delete, zone- or account-scoped) ----

function scope(p: Props): string {
  return p.accountId ? `/accounts/${p.accountId}` : `/zones/${p.zoneId}`;
}

function rulesetOuts(inputs: Props, api: any): Props {
  const p = reveal<Props>(inputs);
  return defined({
    accountId: p.accountId,
    zoneId: p.zoneId,
    kind: api.kind,
    name: api.name,
    phase: api.phase,
    description: api.description ?? "",
    // Rule fields the API adds that the Pulumi type has no place for (version, last_updated) are dropped.
    rules: (api.rules ?? []).map(({ version: _v, last_updated: _l, ...r }: Props) => fromApi(r)),
    lastUpdated: api.last_updated,
    version: api.version,
  });
}

function rulesetBody(inputs: Props): unknown {
  const p = reveal<Props>(inputs);
  return toApi(
    defined({ kind: p.kind, name: p.name, phase: p.phase, description: p.description, rules: p.rules ?? [] }),
  );
}

export const ruleset: ResourceKind = {
  token: "cloudflare:index/ruleset:Ruleset",
  inputs: ["accountId", "description", "kind", "name", "phase", "rules", "zoneId"],
  required: ["kind", "name", "phase"],
  // description and rules are updates (PUT); the rest replaces (one list with the program's, limits.ts).
  replaceOnChanges: [...RULESET_REPLACE_ON_CHANGES],
  computed: ["lastUpdated", "version"],
  volatile: ["lastUpdated", "version"],
  async create(c, inputs) {
    const { result } = await c.call("POST", `${scope(reveal(inputs))}/rulesets`, rulesetBody(inputs));
    return { id: result.id, outs: rulesetOuts(inputs, result) };
  },
  async read(c, id, state) {
    const result = await c.find(`${scope(reveal(state))}/rulesets/${id}`);
    return result && rulesetOuts(state, result);
  },
  async update(c, id, _olds, news) {
    const { result } = await c.call("PUT", `${scope(reveal(news))}/rulesets/${id}`, rulesetBody(news));
    return rulesetOuts(news, result);
  },
  async delete(c, id, state) {
    await c.call("DELETE", `${scope(reveal(state))}/rulesets/${id}`);
  },
};

export const RESOURCES: ResourceKind[] = [
  hyperdriveConfig,
  workersKvNamespace,
  r2Bucket,
  r2BucketCors,
  r2BucketLifecycle,
  r2CustomDomain,
  ruleset,
];

/** The zone read behind cloudflare.getZone (zone/data_source.go: Zones.Get by zone_id), in Pulumi's names. */
export async function getZone(c: CloudflareClient, args: Props): Promise<Props> {
  const zoneId = reveal<string | undefined>(args.zoneId);
  if (!zoneId) throw new Error("getZone: this stand-in reads a zone by zoneId only (the program passes zoneId)");
  const { result } = await c.call("GET", `/zones/${zoneId}`);
  return { ...(fromApi(result) as Props), zoneId };
}

export { UNKNOWN };
