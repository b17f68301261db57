/**
 * A local stand-in of Cloudflare's API v4 (127.0.0.1, under /client/v4) for every resource the program declares:
 * Hyperdrive configs, Workers KV namespaces, R2 buckets with their CORS, lifecycle and custom domains (and the
 * object calls the preview emptier makes), zone rulesets and the zone read.
 *
 * Shapes. github:cloudflare/api-schemas is fetchable but its snapshot holds no openapi.json/openapi.yaml (the files
 * are too large to be stored), so requests and answers are held to hand-written strict zod shapes, each citing the
 * terraform-provider-cloudflare v5 model it comes from (internal/services/<resource>/model.go: the JSON field names
 * the provider sends and reads). A request whose body does not match is answered 400 (code 10001 "invalid JSON
 * body" style, as the API does for unknown fields) and recorded in `violations`; an answer that does not match its
 * shape is a bug of the fake and is recorded there too, so tests assert `violations` is empty.
 *
 * Vendor behaviour modelled (each with its source):
 * - envelope {success, errors[{code,message}], messages, result, result_info} (every v4 answer);
 * - paging `page`/`per_page` with result_info {page, per_page, count, total_count, total_pages} (KV namespaces,
 *   Hyperdrive lists) and R2's cursor paging of objects;
 * - bearer token or 403 code 10000 "Authentication error";
 * - Hyperdrive tests the origin connection on create and on an update of the origin ("Hyperdrive performs a test
 *   connection to your database ... before creating or updating the configuration. Hyperdrive will also issue an
 *   empty test query, a `;`", developers.cloudflare.com/hyperdrive/observability/troubleshooting/): a real TCP
 *   connect here, answered 400 with 2008 "Bad hostname.", 2010 "Cannot connect to the host:port." or 2011
 *   "Connection refused."; then (originCheck "login", the default) a real PostgreSQL login with the origin's user,
 *   password and database and the `;` query: 2013 "Invalid database credentials.", 2014 "The specified database
 *   name does not exist.", 2016 "Test query failed.", 2015 "Generic error." (the same page's table). Not modelled:
 *   Hyperdrive's TLS requirement (2012) and its refusal of private addresses (2009), which a local origin breaks;
 * - a zone has one entrypoint ruleset per phase: a second `kind: zone` ruleset for a phase answers 400 code 20217
 *   "'zone' is not a valid value for kind because exceeded maximum number of zone rulesets for phase <phase>"
 *   (the API's answer as reported against terraform-provider-cloudflare v5; v4 of the provider turned it into
 *   "A similar configuration with rules already exists and overwriting will have unintended consequences");
 * - R2 refuses to delete a non-empty bucket (409 10008), answers 10006 for a missing bucket, keeps jurisdictions
 *   apart (`cf-r2-jurisdiction`), and a bucket name exists once per jurisdiction (409 10004);
 * - 429 with `Retry-After` when told to (faults), as the API's rate limiter answers (code 971 / 10000 family).
 */
import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { Client } from "pg";
import { z } from "zod";

export interface FakeRequest {
  method: string;
  path: string;
  jurisdiction: string;
  body?: unknown;
}

/** A fault to answer the next matching request with, before serving it. */
export type Fault = number | { status: number; code?: number; message?: string; retryAfter?: number; match?: RegExp };

const ID32 = /^[0-9a-f]{32}$/;

// ---- shapes (strict: a field the provider does not send is a violation) ----

/** terraform-provider-cloudflare internal/services/hyperdrive_config/model.go HyperdriveConfigOriginModel. */
const hyperdriveOrigin = z.strictObject({
  database: z.string().min(1),
  host: z.string().min(1).optional(),
  password: z.string(),
  port: z.number().int().min(1).max(65535).optional(),
  scheme: z.enum(["postgres", "postgresql", "mysql"]),
  user: z.string().min(1),
  access_client_id: z.string().optional(),
  access_client_secret: z.string().optional(),
  service_id: z.string().optional(),
});
/** hyperdrive_config/model.go HyperdriveConfigCachingModel. */
const hyperdriveCaching = z.strictObject({
  disabled: z.boolean().optional(),
  max_age: z.number().int().min(0).optional(),
  stale_while_revalidate: z.number().int().min(0).optional(),
});
/** hyperdrive_config/model.go HyperdriveConfigModel (request: the non-computed fields). */
export const hyperdriveConfigRequest = z.strictObject({
  name: z.string().min(1),
  origin: hyperdriveOrigin,
  // schema.go: AtLeast(5); "Maximum allowed: 20 for free tier accounts, 100 for paid tier accounts" (paid here).
  origin_connection_limit: z.number().int().min(5).max(100).optional(),
  caching: hyperdriveCaching.optional(),
  mtls: z
    .strictObject({
      ca_certificate_id: z.string().optional(),
      mtls_certificate_id: z.string().optional(),
      sslmode: z.string().optional(),
    })
    .optional(),
});
/** The answer: the config without the password (Cloudflare never returns it), plus id and timestamps. */
export const hyperdriveConfigResult = hyperdriveConfigRequest.extend({
  id: z.string().regex(ID32),
  origin: hyperdriveOrigin.omit({ password: true, access_client_secret: true }),
  created_on: z.string(),
  modified_on: z.string(),
});

/** workers_kv_namespace/model.go WorkersKVNamespaceModel. */
export const kvNamespaceRequest = z.strictObject({ title: z.string().min(1).max(512) });
export const kvNamespaceResult = z.strictObject({
  id: z.string().regex(ID32),
  title: z.string(),
  supports_url_encoding: z.boolean(),
});

const LOCATIONS = ["apac", "eeur", "enam", "weur", "wnam", "oc"];
/** r2_bucket/model.go CreateR2BucketModel: name, locationHint, storageClass (jurisdiction is a header). */
export const r2BucketRequest = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/),
  locationHint: z
    .string()
    .refine((l) => LOCATIONS.includes(l.toLowerCase()), "unknown location")
    .optional(),
  storageClass: z.enum(["Standard", "InfrequentAccess"]).optional(),
});
/** r2_bucket/model.go R2BucketModel (what GET answers). */
export const r2BucketResult = z.strictObject({
  name: z.string(),
  creation_date: z.string(),
  location: z.string().optional(),
  storage_class: z.enum(["Standard", "InfrequentAccess"]),
  jurisdiction: z.enum(["default", "eu", "fedramp"]),
});

/** r2_bucket_cors/model.go R2BucketCORSRulesModel. */
const corsRule = z.strictObject({
  allowed: z.strictObject({
    methods: z.array(z.enum(["GET", "PUT", "POST", "DELETE", "HEAD"])).min(1),
    origins: z.array(z.string()).min(1),
    headers: z.array(z.string()).optional(),
  }),
  id: z.string().optional(),
  exposeHeaders: z.array(z.string()).optional(),
  maxAgeSeconds: z.number().min(0).optional(),
});
export const r2CorsBody = z.strictObject({ rules: z.array(corsRule).optional() });

/** r2_bucket_lifecycle/model.go R2BucketLifecycleRulesModel. */
const ageCondition = z.strictObject({ type: z.literal("Age"), maxAge: z.number().int().min(1) });
const lifecycleRule = z.strictObject({
  id: z.string().min(1),
  conditions: z.strictObject({ prefix: z.string() }),
  enabled: z.boolean(),
  abortMultipartUploadsTransition: z.strictObject({ condition: ageCondition.optional() }).optional(),
  deleteObjectsTransition: z
    .strictObject({
      condition: z
        .strictObject({
          type: z.enum(["Age", "Date"]),
          maxAge: z.number().int().optional(),
          date: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
  storageClassTransitions: z
    .array(
      z.strictObject({
        condition: z.strictObject({
          type: z.enum(["Age", "Date"]),
          maxAge: z.number().int().optional(),
          date: z.string().optional(),
        }),
        storageClass: z.literal("InfrequentAccess"),
      }),
    )
    .optional(),
});
export const r2LifecycleBody = z.strictObject({ rules: z.array(lifecycleRule).optional() });

/** r2_custom_domain/model.go R2CustomDomainModel (request: domain, zoneId, enabled, minTLS, ciphers). */
export const r2CustomDomainRequest = z.strictObject({
  domain: z.string().min(1),
  zoneId: z.string().regex(ID32),
  enabled: z.boolean(),
  minTLS: z.enum(["1.0", "1.1", "1.2", "1.3"]).optional(),
  ciphers: z.array(z.string()).optional(),
});
export const r2CustomDomainUpdate = r2CustomDomainRequest.omit({ domain: true, zoneId: true }).partial();
export const r2CustomDomainResult = z.strictObject({
  domain: z.string(),
  enabled: z.boolean(),
  status: z.strictObject({ ownership: z.string(), ssl: z.string() }),
  minTLS: z.string().optional(),
  zoneId: z.string(),
  zoneName: z.string(),
  ciphers: z.array(z.string()).optional(),
});

/** ruleset/model.go RulesetRulesModel: the rule fields the provider sends (action_parameters kept open: its
 * model has ~80 optional fields; the program's are checked by its own tests). */
const rulesetRule = z.strictObject({
  id: z.string().optional(),
  action: z.string().min(1),
  action_parameters: z.record(z.string(), z.unknown()).optional(),
  description: z.string().optional(),
  enabled: z.boolean().optional(),
  exposed_credential_check: z.record(z.string(), z.unknown()).optional(),
  expression: z.string().min(1),
  logging: z.strictObject({ enabled: z.boolean() }).optional(),
  ratelimit: z.record(z.string(), z.unknown()).optional(),
  ref: z.string().optional(),
});
/** ruleset/model.go RulesetModel. */
export const rulesetRequest = z.strictObject({
  kind: z.enum(["managed", "custom", "root", "zone"]),
  name: z.string().min(1),
  phase: z.string().min(1),
  description: z.string().optional(),
  rules: z.array(rulesetRule).optional(),
});
export const rulesetResult = z.strictObject({
  id: z.string().regex(ID32),
  kind: z.string(),
  name: z.string(),
  phase: z.string(),
  description: z.string(),
  rules: z.array(rulesetRule.extend({ id: z.string(), version: z.string(), last_updated: z.string() })),
  last_updated: z.string(),
  version: z.string(),
});

/** zone/model.go ZoneModel, the fields GET /zones/{id} answers that the data source reads. */
export const zoneResult = z.strictObject({
  id: z.string().regex(ID32),
  name: z.string(),
  status: z.string(),
  paused: z.boolean(),
  type: z.string(),
  development_mode: z.number(),
  name_servers: z.array(z.string()),
  original_name_servers: z.array(z.string()),
  original_registrar: z.string(),
  original_dnshost: z.string(),
  created_on: z.string(),
  modified_on: z.string(),
  activated_on: z.string(),
  vanity_name_servers: z.array(z.string()),
  cname_suffix: z.string(),
  verification_key: z.string(),
  permissions: z.array(z.string()),
  meta: z.strictObject({
    cdn_only: z.boolean(),
    custom_certificate_quota: z.number(),
    dns_only: z.boolean(),
    foundation_dns: z.boolean(),
    page_rule_quota: z.number(),
    phishing_detected: z.boolean(),
    step: z.number(),
  }),
  owner: z.strictObject({ id: z.string(), name: z.string(), type: z.string() }),
  account: z.strictObject({ id: z.string(), name: z.string() }),
  tenant: z.strictObject({ id: z.string(), name: z.string() }),
  tenant_unit: z.strictObject({ id: z.string() }),
  plan: z.strictObject({
    id: z.string(),
    name: z.string(),
    price: z.number(),
    currency: z.string(),
    frequency: z.string(),
    is_subscribed: z.boolean(),
    can_subscribe: z.boolean(),
    legacy_id: z.string(),
    legacy_discount: z.boolean(),
    externally_managed: z.boolean(),
  }),
});

// ---- records ----

type Hyperdrive = z.infer<typeof hyperdriveConfigRequest> & {
  id: string;
  account: string;
  created_on: string;
  modified_on: string;
};
type KvNamespace = z.infer<typeof kvNamespaceResult> & { account: string };
interface BucketMeta {
  name: string;
  account: string;
  jurisdiction: "default" | "eu" | "fedramp";
  location?: string;
  storage_class: "Standard" | "InfrequentAccess";
  creation_date: string;
  cors?: z.infer<typeof corsRule>[];
  lifecycle?: z.infer<typeof lifecycleRule>[];
  domains: Map<string, z.infer<typeof r2CustomDomainRequest>>;
}
type Ruleset = z.infer<typeof rulesetResult> & { zone: string };
export type ZonePlanName = "free" | "pro" | "business" | "enterprise";
interface Zone {
  id: string;
  name: string;
  account: string;
  plan: ZonePlanName;
}

const PLAN_NAMES: Record<ZonePlanName, { name: string; price: number; legacy: string }> = {
  free: { name: "Free Website", price: 0, legacy: "free" },
  pro: { name: "Pro Website", price: 20, legacy: "pro" },
  business: { name: "Business Website", price: 200, legacy: "business" },
  enterprise: { name: "Enterprise Website", price: 0, legacy: "enterprise" },
};

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

let counter = 0;
function newId(): string {
  counter += 1;
  return (Date.now().toString(16) + counter.toString(16).padStart(8, "0") + Math.random().toString(16).slice(2))
    .replace(/[^0-9a-f]/g, "")
    .padEnd(32, "0")
    .slice(0, 32);
}

/** Try a TCP connection to host:port as Hyperdrive's test connection does; null when it connects. */
export function testConnection(host: string, port: number, timeoutMs = 3000): Promise<ApiError | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (e: ApiError | null) => {
      socket.destroy();
      resolve(e);
    };
    socket.setTimeout(timeoutMs, () => done(new ApiError(400, 2010, "Cannot connect to the host:port.")));
    socket.on("connect", () => done(null));
    socket.on("error", (e: NodeJS.ErrnoException) =>
      done(
        e.code === "ECONNREFUSED"
          ? new ApiError(400, 2011, "Connection refused.")
          : e.code === "ENOTFOUND" || e.code === "EAI_AGAIN"
            ? new ApiError(400, 2008, "Bad hostname.")
            : new ApiError(400, 2010, "Cannot connect to the host:port."),
      ),
    );
  });
}

/** Log in as the origin's user and run `;`, as Hyperdrive's test query does; null when both succeed. */
export async function testLogin(
  origin: z.infer<typeof hyperdriveOrigin>,
  /** TLS as Hyperdrive speaks it: the origin's own host name as the server name (SNI), its certificate verified. */
  tls?: { serverName: string; ca: string },
): Promise<ApiError | null> {
  const client = new Client({
    host: origin.host,
    port: origin.port ?? 5432,
    user: origin.user,
    password: origin.password,
    database: origin.database,
    connectionTimeoutMillis: 5000,
    // Hyperdrive's default TLS mode `require` validates the server certificate (WebPKI; here the stand-in's CA):
    // https://developers.cloudflare.com/hyperdrive/configuration/tls-ssl-certificates-for-hyperdrive
    ...(tls ? { ssl: { servername: tls.serverName, ca: tls.ca } } : {}),
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (e) {
    const code = (e as { code?: string }).code;
    // PostgreSQL SQLSTATE: 28P01 invalid_password, 28000 invalid_authorization_specification, 3D000 invalid_catalog_name.
    if (code === "28P01" || code === "28000") return new ApiError(400, 2013, "Invalid database credentials.");
    if (code === "3D000") return new ApiError(400, 2014, "The specified database name does not exist.");
    return new ApiError(400, 2015, "Generic error.");
  }
  try {
    await client.query(";");
    return null;
  } catch {
    return new ApiError(400, 2016, "Test query failed.");
  } finally {
    await client.end().catch(() => undefined);
  }
}

export class FakeCloudflareApi {
  /** R2 objects: `<jurisdiction>/<bucket>` -> keys. A bucket exists when it has an entry here. */
  readonly buckets = new Map<string, Set<string>>();
  /** R2 bucket settings, per `<jurisdiction>/<bucket>` (created with the bucket; addBucket makes a default one). */
  readonly bucketMeta = new Map<string, BucketMeta>();
  readonly hyperdrive = new Map<string, Hyperdrive>();
  readonly kv = new Map<string, KvNamespace>();
  readonly rulesets = new Map<string, Ruleset>();
  readonly zones = new Map<string, Zone>();
  readonly requests: FakeRequest[] = [];
  /** Shape mismatches of requests (answered 400) and of the fake's own answers. */
  readonly violations: string[] = [];
  /** Faults to answer the next (matching) requests with before serving them. */
  faults: Fault[] = [];
  /** The most keys one R2 listing returns (R2's maximum is 1000; smaller to exercise paging). */
  pageLimit = 1000;
  /** Hyperdrive's test connection: a TCP connect only, or also a PostgreSQL login and the `;` query. */
  originCheck: "tcp" | "login" = "login";
  /**
   * Where an origin's host:port really is, as DNS would answer (an end-to-end suite maps a Neon host name of its
   * Neon stand-in to the local PostgreSQL); the config keeps the host as sent. Default: as given.
   */
  resolveOrigin: (host: string, port: number) => { host: string; port: number } = (host, port) => ({ host, port });
  /** The CA that signs the origins' certificates: set, the login check speaks TLS (SNI: the origin's host). */
  originCa?: string;
  private server?: http.Server;

  constructor(readonly token = "test-cloudflare-token") {}

  addZone(id: string, name: string, plan: ZonePlanName = "free", account = "0".repeat(32)): void {
    this.zones.set(id, { id, name, plan, account });
  }

  addBucket(name: string, keys: string[], jurisdiction = "default", account = "0".repeat(32)): void {
    const key = `${jurisdiction}/${name}`;
    this.buckets.set(key, new Set(keys));
    this.bucketMeta.set(key, {
      name,
      account,
      jurisdiction: jurisdiction as BucketMeta["jurisdiction"],
      storage_class: "Standard",
      creation_date: new Date().toISOString(),
      domains: new Map(),
    });
  }

  objects(name: string, jurisdiction = "default"): string[] | undefined {
    const b = this.buckets.get(`${jurisdiction}/${name}`);
    return b ? [...b].sort() : undefined;
  }

  /** Forget everything (between tests). */
  reset(): void {
    for (const m of [this.buckets, this.bucketMeta, this.hyperdrive, this.kv, this.rulesets]) m.clear();
    this.requests.length = 0;
    this.violations.length = 0;
    this.faults = [];
    this.pageLimit = 1000;
    this.originCheck = "login";
    this.resolveOrigin = (host, port) => ({ host, port });
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.handle(req, Buffer.concat(chunks).toString("utf8")).then(
          (r) => this.send(res, r.status, r.payload, r.headers),
          (e: unknown) => {
            if (e instanceof ApiError) {
              this.send(
                res,
                e.status,
                { success: false, errors: [{ code: e.code, message: e.message }], result: null },
                e.headers,
              );
            } else {
              this.violations.push(`fake crashed: ${String(e)}`);
              this.send(res, 500, {
                success: false,
                errors: [{ code: 10000, message: "internal error" }],
                result: null,
              });
            }
          },
        );
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/client/v4`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private send(
    res: http.ServerResponse,
    status: number,
    payload: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify({ errors: [], messages: [], ...payload }));
  }

  private parse<T>(shape: z.ZodType<T>, body: string, what: string): T {
    let json: unknown;
    try {
      json = body === "" ? {} : JSON.parse(body);
    } catch {
      this.violations.push(`${what}: body is not JSON`);
      throw new ApiError(400, 10001, "Request body is not valid JSON");
    }
    const r = shape.safeParse(json);
    if (!r.success) {
      const detail = r.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
      this.violations.push(`${what}: ${detail}`);
      throw new ApiError(400, 10001, `invalid request body: ${detail}`);
    }
    return r.data;
  }

  private ok(shape: z.ZodType | undefined, result: unknown, what: string, extra: Record<string, unknown> = {}) {
    if (shape) {
      const items = Array.isArray(result) ? result : [result];
      for (const item of items) {
        const r = shape.safeParse(item);
        if (!r.success)
          this.violations.push(
            `answer of ${what}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
          );
      }
    }
    return { status: 200, payload: { success: true, result, ...extra }, headers: {} as Record<string, string> };
  }

  private paged<T>(items: T[], url: URL, shape: z.ZodType, what: string) {
    const page = Math.max(1, Number(url.searchParams.get("page") ?? 1));
    const perPage = Math.min(Math.max(1, Number(url.searchParams.get("per_page") ?? 20)), 1000);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return this.ok(shape, slice, what, {
      result_info: {
        page,
        per_page: perPage,
        count: slice.length,
        total_count: items.length,
        total_pages: Math.max(1, Math.ceil(items.length / perPage)),
      },
    });
  }

  private async handle(req: http.IncomingMessage, body: string) {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const jurisdiction = String(req.headers["cf-r2-jurisdiction"] ?? "default");
    let parsedBody: unknown;
    try {
      parsedBody = body ? JSON.parse(body) : undefined;
    } catch {
      parsedBody = body;
    }
    this.requests.push({
      method,
      path: url.pathname,
      jurisdiction,
      ...(parsedBody !== undefined ? { body: parsedBody } : {}),
    });

    const faultAt = this.faults.findIndex(
      (f) => typeof f === "number" || !f.match || f.match.test(`${method} ${url.pathname}`),
    );
    if (faultAt >= 0) {
      const [f] = this.faults.splice(faultAt, 1);
      const fault = typeof f === "number" ? { status: f } : f!;
      const headers: Record<string, string> =
        fault.status === 429 ? { "retry-after": String(fault.retryAfter ?? 1) } : {};
      throw new ApiError(
        fault.status,
        fault.code ?? (fault.status === 429 ? 971 : 10001),
        fault.message ??
          (fault.status === 429
            ? "Please wait and consider throttling your request speed"
            : `injected ${fault.status}`),
        headers,
      );
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(403, 10000, "Authentication error");

    const p = url.pathname.replace(/^\/client\/v4/, "");
    let m: RegExpExecArray | null;

    // Zones and rulesets.
    if ((m = /^\/zones\/([^/]+)$/.exec(p)) && method === "GET")
      return this.ok(zoneResult, this.zoneView(this.zoneOf(m[1]!)), "zone");
    if ((m = /^\/zones\/([^/]+)\/rulesets$/.exec(p))) {
      const zone = this.zoneOf(m[1]!);
      if (method === "GET") {
        const list = [...this.rulesets.values()]
          .filter((r) => r.zone === zone.id)
          .map(({ zone: _z, rules: _r, ...rest }) => rest);
        return this.ok(undefined, list, "rulesets list");
      }
      if (method === "POST") return this.createRuleset(zone, this.parse(rulesetRequest, body, "POST rulesets"));
    }
    if ((m = /^\/zones\/([^/]+)\/rulesets\/phases\/([^/]+)\/entrypoint$/.exec(p)) && method === "GET") {
      const zone = this.zoneOf(m[1]!);
      const rs = [...this.rulesets.values()].find((r) => r.zone === zone.id && r.kind === "zone" && r.phase === m![2]);
      if (!rs) throw new ApiError(404, 10003, "Could not find entrypoint ruleset in the http_request phase");
      return this.ok(rulesetResult, this.rulesetView(rs), "entrypoint");
    }
    if ((m = /^\/zones\/([^/]+)\/rulesets\/([^/]+)$/.exec(p))) {
      const zone = this.zoneOf(m[1]!);
      const rs = this.rulesets.get(m[2]!);
      if (!rs || rs.zone !== zone.id) throw new ApiError(404, 10003, "could not find ruleset");
      if (method === "GET") return this.ok(rulesetResult, this.rulesetView(rs), "ruleset");
      if (method === "PUT") return this.updateRuleset(rs, this.parse(rulesetRequest.partial(), body, "PUT ruleset"));
      if (method === "DELETE") {
        this.rulesets.delete(rs.id);
        return { status: 204, payload: {}, headers: {} };
      }
    }

    // Account-scoped resources.
    const acct = /^\/accounts\/([^/]+)(\/.*)$/.exec(p);
    if (!acct) throw new ApiError(404, 7000, "No route for that URI");
    const account = acct[1]!;
    if (!ID32.test(account))
      throw new ApiError(
        400,
        7003,
        "Could not route to /accounts/" + account + ", perhaps your object identifier is invalid?",
      );
    const rest = acct[2]!;

    if (rest === "/hyperdrive/configs") {
      if (method === "GET") {
        const list = [...this.hyperdrive.values()]
          .filter((h) => h.account === account)
          .map((h) => this.hyperdriveView(h));
        return this.paged(list, url, hyperdriveConfigResult, "hyperdrive list");
      }
      if (method === "POST") {
        const input = this.parse(hyperdriveConfigRequest, body, "POST hyperdrive config");
        if ([...this.hyperdrive.values()].some((h) => h.account === account && h.name === input.name)) {
          throw new ApiError(409, 2017, `A Hyperdrive config with the name '${input.name}' already exists`);
        }
        await this.checkOrigin(input.origin);
        const now = new Date().toISOString();
        const rec: Hyperdrive = { ...input, id: newId(), account, created_on: now, modified_on: now };
        this.hyperdrive.set(rec.id, rec);
        return this.ok(hyperdriveConfigResult, this.hyperdriveView(rec), "hyperdrive create");
      }
    }
    if ((m = /^\/hyperdrive\/configs\/([^/]+)$/.exec(rest))) {
      const rec = this.hyperdrive.get(m[1]!);
      if (!rec || rec.account !== account) throw new ApiError(404, 2005, "Hyperdrive config not found");
      if (method === "GET") return this.ok(hyperdriveConfigResult, this.hyperdriveView(rec), "hyperdrive get");
      if (method === "PUT") {
        const input = this.parse(hyperdriveConfigRequest, body, "PUT hyperdrive config");
        const originChanged = JSON.stringify(input.origin) !== JSON.stringify(rec.origin);
        if (originChanged) await this.checkOrigin(input.origin);
        const next: Hyperdrive = {
          ...input,
          id: rec.id,
          account,
          created_on: rec.created_on,
          modified_on: new Date().toISOString(),
        };
        this.hyperdrive.set(rec.id, next);
        return this.ok(hyperdriveConfigResult, this.hyperdriveView(next), "hyperdrive update");
      }
      if (method === "DELETE") {
        this.hyperdrive.delete(rec.id);
        return this.ok(undefined, null, "hyperdrive delete");
      }
    }

    if (rest === "/storage/kv/namespaces") {
      if (method === "GET") {
        const list = [...this.kv.values()].filter((n) => n.account === account).map(({ account: _a, ...n }) => n);
        return this.paged(list, url, kvNamespaceResult, "kv list");
      }
      if (method === "POST") {
        const input = this.parse(kvNamespaceRequest, body, "POST kv namespace");
        if ([...this.kv.values()].some((n) => n.account === account && n.title === input.title)) {
          throw new ApiError(400, 10014, "a namespace with this account ID and title already exists");
        }
        const rec: KvNamespace = { id: newId(), title: input.title, supports_url_encoding: true, account };
        this.kv.set(rec.id, rec);
        const { account: _a, ...view } = rec;
        return this.ok(kvNamespaceResult, view, "kv create");
      }
    }
    if ((m = /^\/storage\/kv\/namespaces\/([^/]+)$/.exec(rest))) {
      const rec = this.kv.get(m[1]!);
      if (!rec || rec.account !== account) throw new ApiError(404, 10013, "get namespace: 'namespace not found'");
      const view = () => ({ id: rec.id, title: rec.title, supports_url_encoding: rec.supports_url_encoding });
      if (method === "GET") return this.ok(kvNamespaceResult, view(), "kv get");
      if (method === "PUT") {
        rec.title = this.parse(kvNamespaceRequest, body, "PUT kv namespace").title;
        return this.ok(kvNamespaceResult, view(), "kv update");
      }
      if (method === "DELETE") {
        this.kv.delete(rec.id);
        return this.ok(undefined, null, "kv delete");
      }
    }

    if (rest === "/r2/buckets") {
      if (method === "GET") {
        const list = [...this.bucketMeta.values()].filter(
          (b) => b.account === account && b.jurisdiction === jurisdiction,
        );
        return this.ok(undefined, { buckets: list.map((b) => this.bucketView(b)) }, "r2 list");
      }
      if (method === "POST") {
        const input = this.parse(r2BucketRequest, body, "POST r2 bucket");
        const key = `${jurisdiction}/${input.name}`;
        if (this.buckets.has(key)) {
          throw new ApiError(409, 10004, "The bucket you tried to create already exists, and you own it.");
        }
        const meta: BucketMeta = {
          name: input.name,
          account,
          jurisdiction: jurisdiction as BucketMeta["jurisdiction"],
          ...(input.locationHint ? { location: input.locationHint.toUpperCase() } : {}),
          storage_class: input.storageClass ?? "Standard",
          creation_date: new Date().toISOString(),
          domains: new Map(),
        };
        this.buckets.set(key, new Set());
        this.bucketMeta.set(key, meta);
        return this.ok(r2BucketResult, this.bucketView(meta), "r2 create");
      }
    }
    if ((m = /^\/r2\/buckets\/([^/]+)(\/.*)?$/.exec(rest))) {
      const name = decodeURIComponent(m[1]!);
      const key = `${jurisdiction}/${name}`;
      const objects = this.buckets.get(key);
      if (!objects) throw new ApiError(404, 10006, "The specified bucket does not exist.");
      const meta = this.bucketMeta.get(key) ?? this.defaultMeta(name, account, jurisdiction, key);
      return this.bucketRoute(method, m[2] ?? "", url, body, key, objects, meta);
    }
    throw new ApiError(405, 10000, `method ${method} not allowed on ${p}`);
  }

  private bucketRoute(
    method: string,
    sub: string,
    url: URL,
    body: string,
    key: string,
    objects: Set<string>,
    meta: BucketMeta,
  ) {
    if (sub === "") {
      if (method === "GET") return this.ok(r2BucketResult, this.bucketView(meta), "r2 get");
      if (method === "PATCH") {
        // r2_bucket/resource.go Update: the storage class travels in the cf-r2-storage-class header.
        return this.ok(r2BucketResult, this.bucketView(meta), "r2 edit");
      }
      if (method === "DELETE") {
        if (objects.size > 0) throw new ApiError(409, 10008, "The bucket you tried to delete is not empty.");
        this.buckets.delete(key);
        this.bucketMeta.delete(key);
        return this.ok(undefined, {}, "r2 delete");
      }
    }
    if (sub === "/objects" && method === "GET") {
      const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 1000), 1000, this.pageLimit);
      const sorted = [...objects].sort();
      const cursor = url.searchParams.get("cursor");
      const start = cursor ? Number(Buffer.from(cursor, "base64url").toString()) : 0;
      const page = sorted.slice(start, start + perPage);
      const truncated = start + perPage < sorted.length;
      return this.ok(
        undefined,
        page.map((k) => ({ key: k, size: 1, etag: "e", http_metadata: {} })),
        "r2 objects",
        {
          result_info: {
            per_page: perPage,
            is_truncated: truncated,
            ...(truncated ? { cursor: Buffer.from(String(start + perPage)).toString("base64url") } : {}),
          },
        },
      );
    }
    // Delete Object, one key per request (10007 for a key that does not exist), as Cloudflare's OpenAPI documents it
    // (cloudflare-typescript src/resources/r2/buckets/objects.ts); the undocumented bulk delete is not served.
    if (sub.startsWith("/objects/") && method === "DELETE") {
      const objectKey = sub.slice("/objects/".length).split("/").map(decodeURIComponent).join("/");
      if (!objects.has(objectKey)) throw new ApiError(404, 10007, "The specified key does not exist.");
      objects.delete(objectKey);
      return this.ok(undefined, { key: objectKey }, "r2 object delete");
    }
    if (sub === "/objects" && method === "DELETE") throw new ApiError(404, 7000, "No route for that URI");
    if (sub === "/cors") {
      if (method === "GET") {
        if (!meta.cors) throw new ApiError(404, 10059, "The CORS configuration does not exist.");
        return this.ok(r2CorsBody, { rules: meta.cors }, "cors get");
      }
      if (method === "PUT") {
        meta.cors = this.parse(r2CorsBody, body, "PUT cors").rules ?? [];
        return this.ok(undefined, {}, "cors put");
      }
      if (method === "DELETE") {
        delete meta.cors;
        return this.ok(undefined, {}, "cors delete");
      }
    }
    if (sub === "/lifecycle") {
      if (method === "GET") return this.ok(r2LifecycleBody, { rules: meta.lifecycle ?? [] }, "lifecycle get");
      if (method === "PUT") {
        meta.lifecycle = this.parse(r2LifecycleBody, body, "PUT lifecycle").rules ?? [];
        return this.ok(undefined, {}, "lifecycle put");
      }
    }
    if (sub === "/domains/custom") {
      if (method === "GET")
        return this.ok(
          undefined,
          { domains: [...meta.domains.values()].map((d) => this.domainView(d)) },
          "domains list",
        );
      if (method === "POST") {
        const input = this.parse(r2CustomDomainRequest, body, "POST custom domain");
        const zone = this.zones.get(input.zoneId);
        if (!zone) throw new ApiError(404, 10081, "The zone for this custom domain does not exist.");
        if (input.domain !== zone.name && !input.domain.endsWith(`.${zone.name}`)) {
          throw new ApiError(400, 10082, `The domain ${input.domain} is not in zone ${zone.name}.`);
        }
        for (const other of this.bucketMeta.values()) {
          if (other.domains.has(input.domain))
            throw new ApiError(409, 10083, "The custom domain is already in use by another bucket.");
        }
        meta.domains.set(input.domain, input);
        const { domain, enabled, minTLS, ciphers } = input;
        return this.ok(
          undefined,
          { domain, enabled, ...(minTLS ? { minTLS } : {}), ...(ciphers ? { ciphers } : {}) },
          "domain create",
        );
      }
    }
    const dm = /^\/domains\/custom\/([^/]+)$/.exec(sub);
    if (dm) {
      const domain = decodeURIComponent(dm[1]!);
      const d = meta.domains.get(domain);
      if (!d) throw new ApiError(404, 10079, "The custom domain does not exist on this bucket.");
      if (method === "GET") return this.ok(r2CustomDomainResult, this.domainView(d), "domain get");
      if (method === "PUT") {
        const patch = this.parse(r2CustomDomainUpdate, body, "PUT custom domain");
        const next = { ...d, ...patch };
        meta.domains.set(domain, next);
        return this.ok(
          undefined,
          { domain, enabled: next.enabled, ...(next.minTLS ? { minTLS: next.minTLS } : {}) },
          "domain update",
        );
      }
      if (method === "DELETE") {
        meta.domains.delete(domain);
        return this.ok(undefined, { domain }, "domain delete");
      }
    }
    throw new ApiError(405, 10000, `method ${method} not allowed`);
  }

  private defaultMeta(name: string, account: string, jurisdiction: string, key: string): BucketMeta {
    const meta: BucketMeta = {
      name,
      account,
      jurisdiction: jurisdiction as BucketMeta["jurisdiction"],
      storage_class: "Standard",
      creation_date: new Date().toISOString(),
      domains: new Map(),
    };
    this.bucketMeta.set(key, meta);
    return meta;
  }

  private async checkOrigin(origin: z.infer<typeof hyperdriveOrigin>): Promise<void> {
    if (!origin.host) return; // an Access-protected origin (service_id) is not reached directly
    const at = this.resolveOrigin(origin.host, origin.port ?? 5432);
    const failure = await testConnection(at.host, at.port);
    if (failure) throw failure;
    if (this.originCheck === "login") {
      const tls = this.originCa ? { serverName: origin.host, ca: this.originCa } : undefined;
      const loginFailure = await testLogin({ ...origin, ...at }, tls);
      if (loginFailure) throw loginFailure;
    }
  }

  private zoneOf(id: string): Zone {
    const zone = this.zones.get(id);
    if (!zone) throw new ApiError(404, 1001, "Invalid zone identifier");
    return zone;
  }

  private zoneView(z: Zone) {
    const plan = PLAN_NAMES[z.plan];
    const t = "2024-01-01T00:00:00Z";
    return {
      id: z.id,
      name: z.name,
      status: "active",
      paused: false,
      type: "full",
      development_mode: 0,
      name_servers: ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
      original_name_servers: [],
      original_registrar: "",
      original_dnshost: "",
      created_on: t,
      modified_on: t,
      activated_on: t,
      vanity_name_servers: [],
      cname_suffix: "",
      verification_key: "",
      permissions: ["#zone:read", "#zone:edit"],
      meta: {
        cdn_only: false,
        custom_certificate_quota: 0,
        dns_only: false,
        foundation_dns: false,
        page_rule_quota: 3,
        phishing_detected: false,
        step: 2,
      },
      owner: { id: "", name: "", type: "user" },
      account: { id: z.account, name: "mauntic" },
      tenant: { id: "", name: "" },
      tenant_unit: { id: "" },
      plan: {
        id: z.plan.padEnd(32, "0").replace(/[^0-9a-f]/g, "0"),
        name: plan.name,
        price: plan.price,
        currency: "USD",
        frequency: z.plan === "free" ? "" : "monthly",
        is_subscribed: true,
        can_subscribe: false,
        legacy_id: plan.legacy,
        legacy_discount: false,
        externally_managed: false,
      },
    };
  }

  private createRuleset(zone: Zone, input: z.infer<typeof rulesetRequest>) {
    if (input.kind !== "zone" && input.kind !== "custom") {
      throw new ApiError(400, 20217, `'${input.kind}' is not a valid value for kind`);
    }
    if (
      input.kind === "zone" &&
      [...this.rulesets.values()].some((r) => r.zone === zone.id && r.kind === "zone" && r.phase === input.phase)
    ) {
      throw new ApiError(
        400,
        20217,
        `'zone' is not a valid value for kind because exceeded maximum number of zone rulesets for phase ${input.phase}`,
      );
    }
    const now = new Date().toISOString();
    const rs: Ruleset = {
      id: newId(),
      zone: zone.id,
      kind: input.kind,
      name: input.name,
      phase: input.phase,
      description: input.description ?? "",
      rules: this.stampRules(input.rules ?? [], "1", now),
      last_updated: now,
      version: "1",
    };
    this.rulesets.set(rs.id, rs);
    return this.ok(rulesetResult, this.rulesetView(rs), "ruleset create");
  }

  private updateRuleset(rs: Ruleset, input: Partial<z.infer<typeof rulesetRequest>>) {
    // kind, name and phase of an existing ruleset are fixed (the provider replaces instead: RequiresReplace).
    for (const k of ["kind", "phase"] as const) {
      if (input[k] !== undefined && input[k] !== rs[k]) throw new ApiError(400, 20021, `${k} cannot be changed`);
    }
    const now = new Date().toISOString();
    const version = String(Number(rs.version) + 1);
    rs.description = input.description ?? rs.description;
    if (input.name !== undefined) rs.name = input.name;
    rs.rules = this.stampRules(input.rules ?? [], version, now);
    rs.version = version;
    rs.last_updated = now;
    return this.ok(rulesetResult, this.rulesetView(rs), "ruleset update");
  }

  private stampRules(rules: z.infer<typeof rulesetRule>[], version: string, now: string) {
    return rules.map((r) => ({
      ...r,
      id: r.id ?? newId(),
      ref: r.ref ?? r.id ?? newId(),
      enabled: r.enabled ?? true,
      version,
      last_updated: now,
    }));
  }

  private rulesetView(rs: Ruleset) {
    const { zone: _z, ...view } = rs;
    return view;
  }

  private hyperdriveView(h: Hyperdrive) {
    const { account: _a, origin, ...rest } = h;
    const { password: _p, access_client_secret: _s, ...publicOrigin } = origin;
    return { ...rest, origin: publicOrigin, caching: { disabled: false, ...rest.caching } };
  }

  private bucketView(b: BucketMeta) {
    return {
      name: b.name,
      creation_date: b.creation_date,
      ...(b.location ? { location: b.location } : {}),
      storage_class: b.storage_class,
      jurisdiction: b.jurisdiction,
    };
  }

  private domainView(d: z.infer<typeof r2CustomDomainRequest>) {
    const zone = this.zones.get(d.zoneId);
    return {
      domain: d.domain,
      enabled: d.enabled,
      status: { ownership: "active", ssl: "active" },
      ...(d.minTLS ? { minTLS: d.minTLS } : {}),
      zoneId: d.zoneId,
      zoneName: zone?.name ?? "",
      ...(d.ciphers ? { ciphers: d.ciphers } : {}),
    };
  }
}
