/**
 * Local stand-ins (HTTP on 127.0.0.1, port 0) for what `monitor` reads from the vendors, each answer shaped after
 * the vendor's documented example:
 * - Neon API v2 (under /api/v2): GET /projects (ProjectsResponse), GET /projects/{id}/endpoints (EndpointsResponse,
 *   the Endpoint example of Neon's OpenAPI document public-v2-for-users.gen.yaml), GET
 *   /consumption_history/v2/projects (ConsumptionHistoryPerPeriodV2's example: `consumption[].metrics[]` of
 *   `{metric_name, value}`); `org_id`, `metrics`, `granularity`, `from`, `to` are required there, so they are here.
 * - Cloudflare (under /client/v4): GET /accounts/{id}/hyperdrive/configs (the API's envelope `{success, errors,
 *   messages, result}`), POST /graphql answering `{data: {viewer: {accounts: [{hyperdriveQueriesAdaptiveGroups}]}},
 *   errors}` with the fields Hyperdrive's "Metrics and analytics" page documents (cloudflare/cloudflare-docs
 *   src/content/docs/hyperdrive/observability/metrics.mdx: count, queryBytes, resultBytes, queryLatency,
 *   connectionLatency under avg/sum, dimensions cacheStatus and eventStatus; filters configId, eventStatus,
 *   datetime_geq, datetime_leq; 31 days retained). A query asking anything else, or older data, gets a 200 with
 *   `{data: null, errors: [{message, path, extensions: {timestamp}}]}` as the GraphQL Analytics "Error responses"
 *   page shows (its example message: "cannot request data older than 2678400s").
 * - Fly's Prometheus (under /prometheus/{org}): GET /api/v1/query answering Prometheus's instant-vector format
 *   (prometheus.io "HTTP API"), series `fly_volume_used_pct` with Fly's labels app, id, region, host ("Metrics on
 *   Fly.io").
 * Every request is recorded; a wrong credential gets 401. Written by hand for these few routes.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  auth: string | undefined;
  /** The answer: status and body. */
  status?: number;
  response?: unknown;
}

export interface FakeState {
  neonKey: string;
  cloudflareToken: string;
  flyToken: string;
  projects: { id: string; name: string; org_id: string }[];
  endpoints: Record<string, { id: string; name: string; type: "read_write" | "read_only"; min: number; max: number }[]>;
  /** compute_unit_seconds per hourly timeframe, oldest first. */
  cuSeconds: number[];
  hyperdrive: { id: string; name: string }[];
  /** GraphQL groups per config id. */
  groups: Record<string, unknown[]>;
  /** fly_volume_used_pct per app/volume id. */
  volumes: { app: string; id: string; pct: number }[];
}

export class FakeServices {
  readonly requests: Recorded[] = [];
  private server?: http.Server;
  url = "";

  constructor(readonly state: FakeState) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (d: Buffer) => (raw += d.toString()));
      req.on("end", () => {
        const u = new URL(req.url!, "http://x");
        const rec: Recorded = {
          method: req.method!,
          path: u.pathname,
          query: Object.fromEntries(u.searchParams),
          body: raw ? (JSON.parse(raw) as unknown) : undefined,
          auth: req.headers.authorization,
        };
        this.requests.push(rec);
        const [status, body] = this.route(rec);
        rec.status = status;
        rec.response = body;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  private route(r: Recorded): [number, unknown] {
    const s = this.state;
    let m: RegExpExecArray | null;
    if (r.path.startsWith("/api/v2/")) {
      if (r.auth !== `Bearer ${s.neonKey}`) return [401, { code: "", message: "authentication required" }];
      const p = r.path.slice("/api/v2".length);
      if (p === "/projects") {
        const projects = s.projects
          .filter((x) => !r.query.search || x.name.includes(r.query.search))
          // The listProjects example of Neon's OpenAPI document, with our ids and names.
          .map((x) => ({
            ...x,
            platform_id: "aws",
            region_id: "aws-us-east-2",
            provisioner: "k8s-pod",
            pg_version: 17,
            created_at: "2022-11-23T17:42:25Z",
            updated_at: "2022-11-23T17:42:25Z",
            proxy_host: "us-east-2.aws.neon.tech",
            cpu_used_sec: 0,
            branch_logical_size_limit: 0,
            owner_id: "1232111",
            creation_source: "console",
            store_passwords: true,
            branch_logical_size_limit_bytes: 10800,
            active_time: 100,
          }));
        return [
          200,
          { projects, applications: {}, integrations: {}, pagination: { cursor: projects.at(-1)?.id ?? "" } },
        ];
      }
      if ((m = /^\/projects\/([^/]+)\/endpoints$/.exec(p))) {
        const endpoints = (s.endpoints[m[1]!] ?? []).map((e) => ({
          host: `${e.id}.us-east-2.aws.neon.tech`,
          id: e.id,
          name: e.name,
          project_id: m![1],
          branch_id: "br-main-1",
          autoscaling_limit_min_cu: e.min,
          autoscaling_limit_max_cu: e.max,
          region_id: "aws-us-east-2",
          type: e.type,
          current_state: "active",
          pooler_enabled: false,
          pooler_mode: "transaction",
          disabled: false,
          passwordless_access: true,
          creation_source: "console",
          created_at: "2022-12-03T15:37:07Z",
          updated_at: "2022-12-03T15:37:07Z",
          proxy_host: "us-east-2.aws.neon.tech",
          suspend_timeout_seconds: 0,
          provisioner: "k8s-neonvm",
          settings: {},
        }));
        return [200, { endpoints }];
      }
      if (p === "/consumption_history/v2/projects") {
        for (const k of ["org_id", "metrics", "granularity", "from", "to"]) {
          if (!r.query[k]) return [400, { code: "", message: `${k} is required` }];
        }
        const from = Date.parse(r.query.from!);
        const ids = r.query.project_ids!.split(",");
        return [
          200,
          {
            projects: ids.map((id) => ({
              project_id: id,
              periods: [
                {
                  period_id: "79ec829f-1828-4006-ac82-9f1828a0067d",
                  period_plan: "scale",
                  period_start: "2026-12-01T00:00:00Z",
                  consumption: s.cuSeconds.map((v, i) => ({
                    timeframe_start: new Date(from + i * 3_600_000).toISOString(),
                    timeframe_end: new Date(from + (i + 1) * 3_600_000).toISOString(),
                    metrics: [{ metric_name: "compute_unit_seconds", value: v }],
                  })),
                },
              ],
            })),
            pagination: { cursor: ids.at(-1) },
          },
        ];
      }
      return [404, { code: "", message: `no route ${r.path}` }];
    }
    if (r.path.startsWith("/client/v4/")) {
      if (r.auth !== `Bearer ${s.cloudflareToken}`) {
        return [
          400,
          {
            success: false,
            errors: [{ code: 9106, message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers" }],
            messages: [],
            result: null,
          },
        ];
      }
      if (/^\/client\/v4\/accounts\/[0-9a-f]{32}\/hyperdrive\/configs$/.test(r.path)) {
        return [200, { success: true, errors: [], messages: [], result: s.hyperdrive }];
      }
      if (r.path === "/client/v4/graphql") {
        const { query, variables } = r.body as { query: string; variables: Record<string, string> };
        const problem = hyperdriveQueryProblem(query, variables);
        if (problem) {
          const path = ["viewer", "accounts", "0", "hyperdriveQueriesAdaptiveGroups"];
          return [
            200,
            { data: null, errors: [{ message: problem, path, extensions: { timestamp: new Date().toISOString() } }] },
          ];
        }
        return [
          200,
          {
            data: {
              viewer: { accounts: [{ hyperdriveQueriesAdaptiveGroups: s.groups[variables.configId ?? ""] ?? [] }] },
            },
            errors: null,
          },
        ];
      }
      return [
        404,
        { success: false, errors: [{ code: 7003, message: "No route for that URI" }], messages: [], result: null },
      ];
    }
    if ((m = /^\/prometheus\/([^/]+)\/api\/v1\/query$/.exec(r.path))) {
      if (r.auth !== `Bearer ${s.flyToken}`)
        return [401, { status: "error", errorType: "unauthorized", error: "unauthorized" }];
      const match = /app=~"([^"]+)"/.exec(r.query.query ?? "");
      const re = new RegExp(`^(?:${match?.[1] ?? ".*"})$`);
      return [
        200,
        {
          status: "success",
          data: {
            resultType: "vector",
            result: s.volumes
              .filter((v) => re.test(v.app))
              .map((v) => ({
                metric: { __name__: "fly_volume_used_pct", app: v.app, id: v.id, region: "iad", host: "a1b2" },
                value: [1765094400, String(v.pct)],
              })),
          },
        },
      ];
    }
    return [404, { message: `no route ${r.path}` }];
  }
}

/** What Hyperdrive's metrics page documents for `hyperdriveQueriesAdaptiveGroups` (see the header). */
const DOCUMENTED_FIELDS = new Set([
  "count",
  "avg",
  "sum",
  "dimensions",
  "queryBytes",
  "resultBytes",
  "queryLatency",
  "connectionLatency",
  "cacheStatus",
  "eventStatus",
]);
const DOCUMENTED_FILTERS = new Set(["configId", "eventStatus", "datetime_geq", "datetime_leq"]);
const RETENTION_S = 31 * 86_400;

/** The text between the bracket at `open` and its match. */
function enclosed(text: string, open: number): string {
  const pair: Record<string, string> = { "(": ")", "{": "}" };
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === text[open]) depth++;
    else if (text[i] === pair[text[open]!]) depth--;
    if (depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/** Why Cloudflare would refuse the query (an undocumented field or filter, no accountTag, data past 31 days). */
export function hyperdriveQueryProblem(query: string, variables: Record<string, string>): string | undefined {
  if (!/accounts\(filter:\s*\{\s*accountTag:\s*\$accountTag\s*\}\)/.test(query) || !variables.accountTag) {
    return "hyperdriveQueriesAdaptiveGroups requires an accountTag filter";
  }
  const at = query.indexOf("hyperdriveQueriesAdaptiveGroups(");
  if (at < 0) return "unknown dataset";
  const argsOpen = query.indexOf("(", at);
  const args = enclosed(query, argsOpen);
  const filter = enclosed(args, args.indexOf("{"));
  for (const [, key] of filter.matchAll(/([A-Za-z_]+)\s*:/g)) {
    if (!DOCUMENTED_FILTERS.has(key!)) return `unknown filter field "${key}"`;
  }
  const selection = enclosed(query, query.indexOf("{", argsOpen + args.length + 1));
  for (const [word] of selection.matchAll(/[A-Za-z_]+/g)) {
    if (!DOCUMENTED_FIELDS.has(word)) return `unknown field "${word}" of hyperdriveQueriesAdaptiveGroups`;
  }
  const start = Date.parse(variables.datetimeStart ?? "");
  const end = Date.parse(variables.datetimeEnd ?? "");
  if (Number.isNaN(start) || Number.isNaN(end)) return "error parsing args: datetime_geq, datetime_leq";
  // Counted from the window's end, not the wall clock: the tests' clock is fixed.
  if ((end - start) / 1000 > RETENTION_S) return `cannot request data older than ${RETENTION_S}s`;
  return undefined;
}
