/**
 * A local fake of the Neon API v2 (HTTP on 127.0.0.1, port 0) for the endpoints the Neon providers use. Writes
 * start operations that run for `operationMs`; a write to a project with a running operation gets 423, as Neon
 * answers. Faults can be injected per request (status codes, dropped connections, slow answers, a create that
 * succeeds but answers too late, failing operations, background operations that lock the project).
 * Written by hand: no library fakes Neon's control plane, and the tests need its operations and locking.
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault =
  /** Answer with this status (and Neon's error body) without touching state. */
  | { kind: "status"; status: number; retryAfterSeconds?: number; message?: string }
  /** Destroy the connection before the request is handled (nothing applied). */
  | { kind: "drop" }
  /** Handle the request, then destroy the connection before answering (applied, the client never hears). */
  | { kind: "dropAfterCommit" }
  /** Handle the request, then hold the answer for `ms` (applied; a client with a shorter timeout gives up). */
  | { kind: "answerLate"; ms: number }
  /** Wait `ms` before handling the request. */
  | { kind: "slow"; ms: number }
  /** The operations this write starts end `failed`. */
  | { kind: "failOperations"; error?: string }
  /** The operations this write starts run for `ms` instead of `operationMs`. */
  | { kind: "slowOperations"; ms: number }
  /** Start an operation of Neon's own (not returned to anyone) on the project for `ms`, then handle the request. */
  | { kind: "backgroundOperation"; ms: number };

export interface FaultRule {
  method?: string;
  /** Matched against the path below /api/v2, e.g. /projects/p-1/branches. */
  path?: RegExp;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  fault: Fault;
}

interface Op {
  id: string;
  project_id: string;
  branch_id?: string;
  endpoint_id?: string;
  action: string;
  finishAt: number;
  fails?: string;
  /** Started by an API write (its answer lists it) or by Neon itself. */
  origin: "api" | "background";
  created_at: string;
}

interface FakeBranch {
  id: string;
  name: string;
  parent_id?: string;
  default: boolean;
  expires_at?: string;
  created_at: string;
}
interface FakeEndpoint {
  id: string;
  branch_id: string;
  type: "read_write" | "read_only";
  name?: string;
  region_id: string;
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
  suspend_timeout_seconds: number;
}
interface FakeRole {
  name: string;
  password: string;
}
interface FakeDatabase {
  id: number;
  name: string;
  owner_name: string;
}
interface FakeProject {
  id: string;
  name: string;
  region_id: string;
  pg_version: number;
  history_retention_seconds: number;
  default_endpoint_settings: Record<string, number>;
  branches: Map<string, FakeBranch>;
  endpoints: Map<string, FakeEndpoint>;
  roles: Map<string, Map<string, FakeRole>>;
  databases: Map<string, Map<string, FakeDatabase>>;
  operations: Op[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number | "dropped";
  requestId?: string;
  authorization?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

export class FakeNeon {
  readonly projects = new Map<string, FakeProject>();
  readonly requests: RecordedRequest[] = [];
  /** Writes that arrived while an operation an API write had started was still running. */
  readonly writesDuringOperations: { method: string; path: string; operation: string }[] = [];
  /** How long an operation runs. */
  operationMs = 20;
  /** The project owner's plan allowance of branches per project (`project.owner.branches_limit`). */
  branchesLimit = 10;
  private readonly faults: FaultRule[] = [];
  private readonly sockets = new Set<Socket>();
  private server?: http.Server;
  private seq = 0;

  constructor(readonly apiKey = "neon-test-key") {}

  /** Starts listening; resolves to the base URL the client takes (`.../api/v2`). */
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v2`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  inject(rule: FaultRule): void {
    this.faults.push({ times: 1, ...rule });
  }

  /** Requests matching a method and path, as recorded (including refused and dropped ones). */
  calls(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  /** Everything that exists, for final-state assertions. */
  snapshot() {
    return [...this.projects.values()].map((p) => ({
      id: p.id,
      name: p.name,
      history_retention_seconds: p.history_retention_seconds,
      default_endpoint_settings: p.default_endpoint_settings,
      branches: [...p.branches.values()].map((b) => ({
        id: b.id,
        name: b.name,
        parent_id: b.parent_id,
        default: b.default,
        expires_at: b.expires_at,
        roles: [...(p.roles.get(b.id)?.keys() ?? [])].sort(),
        databases: [...(p.databases.get(b.id)?.values() ?? [])].map((d) => ({ name: d.name, owner: d.owner_name })),
      })),
      endpoints: [...p.endpoints.values()].map((e) => ({ ...e })),
      runningOperations: p.operations.filter((o) => this.status(o) === "running").length,
    }));
  }

  /** Adds a project directly (a parent stack's project that a preview branches from). */
  seedProject(name: string, opts: { databaseName?: string; roleName?: string } = {}): FakeProject {
    const { p } = this.createProject({ name, branch: { database_name: opts.databaseName, role_name: opts.roleName } });
    // An existing project: its creation finished long ago.
    for (const op of p.operations) op.finishAt = 0;
    return p;
  }

  /** Neon deletes a branch, with its computes, roles and databases, once its `expires_at` has passed. */
  private sweepExpired(p: FakeProject): void {
    for (const b of [...p.branches.values()]) {
      if (!b.expires_at || Date.parse(b.expires_at) > Date.now()) continue;
      p.branches.delete(b.id);
      p.roles.delete(b.id);
      p.databases.delete(b.id);
      for (const [id, e] of p.endpoints) if (e.branch_id === b.id) p.endpoints.delete(id);
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname.replace(/^\/api\/v2/, "");
    const method = req.method ?? "GET";
    const requestId = String(req.headers["x-request-id"] ?? `fake-${++this.seq}`);
    const record: RecordedRequest = {
      method,
      path,
      status: 0,
      requestId,
      authorization: req.headers.authorization,
    };
    this.requests.push(record);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, message: string, headers?: Record<string, string>) =>
      send(status, { code: "", message, request_id: requestId }, headers);

    const fault = this.takeFault(method, path);
    if (fault?.kind === "drop") {
      record.status = "dropped";
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "status") {
      const headers: Record<string, string> =
        fault.retryAfterSeconds !== undefined ? { "retry-after": String(fault.retryAfterSeconds) } : {};
      return fail(fault.status, fault.message ?? http.STATUS_CODES[fault.status] ?? "error", headers);
    }
    if (fault?.kind === "slow") await new Promise((r) => setTimeout(r, fault.ms));
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) return fail(401, "authentication required");

    let status = 200;
    let body: unknown;
    try {
      const json = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
      const write = method !== "GET";
      if (write) {
        const projectId = /^\/projects\/([^/]+)/.exec(path)?.[1];
        const p = projectId ? this.projects.get(projectId) : undefined;
        if (p && fault?.kind === "backgroundOperation") {
          this.startOp(p, "check_availability", {}, "background", fault.ms);
        }
        if (p) this.refuseWhileRunning(p, method, path);
      }
      this.failNext = fault?.kind === "failOperations" ? (fault.error ?? "compute failed to start") : undefined;
      this.durationNext = fault?.kind === "slowOperations" ? fault.ms : undefined;
      ({ status, body } = this.route(method, path, url.searchParams, json));
    } catch (e) {
      if (e instanceof HttpError) return fail(e.status, e.message);
      return fail(500, (e as Error).message);
    } finally {
      this.failNext = undefined;
      this.durationNext = undefined;
    }
    if (fault?.kind === "dropAfterCommit") {
      record.status = "dropped";
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "answerLate") {
      await new Promise((r) => setTimeout(r, fault.ms));
      if (req.socket.destroyed) {
        record.status = "dropped";
        return;
      }
    }
    send(status, body);
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex(
      (f) => (f.method ?? method) === method && (f.path ?? /.*/).test(path) && (f.times ?? 1) > 0,
    );
    if (i < 0) return undefined;
    const rule = this.faults[i]!;
    rule.times = (rule.times ?? 1) - 1;
    if (rule.times <= 0) this.faults.splice(i, 1);
    return rule.fault;
  }

  // ---- operations ---------------------------------------------------------------------------------------------

  private failNext: string | undefined;
  private durationNext: number | undefined;

  private status(op: Op): string {
    if (Date.now() < op.finishAt) return "running";
    return op.fails ? "failed" : "finished";
  }

  private opJson(op: Op) {
    const status = this.status(op);
    return {
      id: op.id,
      project_id: op.project_id,
      branch_id: op.branch_id,
      endpoint_id: op.endpoint_id,
      action: op.action,
      status,
      ...(status === "failed" ? { error: op.fails } : {}),
      failures_count: status === "failed" ? 1 : 0,
      created_at: op.created_at,
      updated_at: now(),
      total_duration_ms: this.operationMs,
    };
  }

  private startOp(
    p: FakeProject,
    action: string,
    ids: { branch_id?: string; endpoint_id?: string },
    origin: Op["origin"] = "api",
    ms = this.durationNext ?? this.operationMs,
  ): Op {
    const op: Op = {
      id: `op-${++this.seq}`,
      project_id: p.id,
      ...ids,
      action,
      finishAt: Date.now() + ms,
      origin,
      created_at: now(),
      ...(origin === "api" && this.failNext ? { fails: this.failNext } : {}),
    };
    p.operations.push(op);
    return op;
  }

  private refuseWhileRunning(p: FakeProject, method: string, path: string): void {
    const running = p.operations.filter((o) => this.status(o) === "running");
    if (running.length === 0) return;
    const ours = running.find((o) => o.origin === "api");
    if (ours) this.writesDuringOperations.push({ method, path, operation: ours.id });
    throw new HttpError(
      423,
      "project already has running conflicting operations, scheduling of new ones is prohibited",
    );
  }

  // ---- resources ----------------------------------------------------------------------------------------------

  private nextId(prefix: string): string {
    return `${prefix}-${String(++this.seq).padStart(6, "0")}`;
  }

  private project(id: string): FakeProject {
    const p = this.projects.get(id);
    if (!p) throw new HttpError(404, `project ${id} not found`);
    return p;
  }

  private branch(p: FakeProject, id: string): FakeBranch {
    const b = p.branches.get(id);
    if (!b) throw new HttpError(404, `branch ${id} not found`);
    return b;
  }

  private projectJson(p: FakeProject) {
    return {
      id: p.id,
      name: p.name,
      region_id: p.region_id,
      pg_version: p.pg_version,
      history_retention_seconds: p.history_retention_seconds,
      default_endpoint_settings: p.default_endpoint_settings,
      proxy_host: `${p.region_id.split("-").slice(1).join("-")}.aws.neon.tech`,
      created_at: now(),
      // ProjectOwnerData: name, email, branches_limit and subscription_type are required.
      owner: {
        name: "Mauntic",
        email: "infra@example.com",
        branches_limit: this.branchesLimit,
        subscription_type: "launch",
      },
    };
  }

  private endpointJson(e: FakeEndpoint, p: FakeProject) {
    const region = e.region_id.split("-").slice(1).join("-");
    return { ...e, project_id: p.id, host: `${e.id}.${region}.aws.neon.tech`, current_state: "idle" };
  }

  private branchJson(b: FakeBranch, p: FakeProject) {
    return { ...b, project_id: p.id, current_state: "ready" };
  }

  private password(): string {
    return `npg_${Math.random().toString(36).slice(2, 14)}`;
  }

  private createProject(body: Record<string, unknown>) {
    const spec = (body.project ?? body) as Record<string, unknown>;
    const branchSpec = (spec.branch ?? {}) as Record<string, string | undefined>;
    const p: FakeProject = {
      id: this.nextId("prj"),
      name: String(spec.name ?? "project"),
      region_id: String(spec.region_id ?? "aws-us-east-2"),
      pg_version: Number(spec.pg_version ?? 17),
      history_retention_seconds: Number(spec.history_retention_seconds ?? 86400),
      default_endpoint_settings: (spec.default_endpoint_settings as Record<string, number>) ?? {},
      branches: new Map(),
      endpoints: new Map(),
      roles: new Map(),
      databases: new Map(),
      operations: [],
    };
    this.projects.set(p.id, p);
    const main: FakeBranch = {
      id: this.nextId("br"),
      name: branchSpec.name ?? "main",
      default: true,
      created_at: now(),
    };
    p.branches.set(main.id, main);
    const dbName = branchSpec.database_name ?? "neondb";
    const role: FakeRole = { name: branchSpec.role_name ?? `${dbName}_owner`, password: this.password() };
    p.roles.set(main.id, new Map([[role.name, role]]));
    const db: FakeDatabase = { id: ++this.seq, name: dbName, owner_name: role.name };
    p.databases.set(main.id, new Map([[db.name, db]]));
    const d = p.default_endpoint_settings;
    const ep: FakeEndpoint = {
      id: this.nextId("ep"),
      branch_id: main.id,
      type: "read_write",
      region_id: p.region_id,
      autoscaling_limit_min_cu: d.autoscaling_limit_min_cu ?? 0.25,
      autoscaling_limit_max_cu: d.autoscaling_limit_max_cu ?? 0.25,
      suspend_timeout_seconds: d.suspend_timeout_seconds ?? 0,
    };
    p.endpoints.set(ep.id, ep);
    const ops = [
      this.startOp(p, "create_timeline", { branch_id: main.id }),
      this.startOp(p, "start_compute", { branch_id: main.id, endpoint_id: ep.id }),
    ];
    return {
      p,
      body: {
        project: this.projectJson(p),
        branch: this.branchJson(main, p),
        endpoints: [this.endpointJson(ep, p)],
        roles: [{ branch_id: main.id, ...role }],
        databases: [{ branch_id: main.id, ...db }],
        operations: ops.map((o) => this.opJson(o)),
        connection_uris: [],
      },
    };
  }

  private route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
  ): { status: number; body: unknown } {
    const ok = (b: unknown, status = 200) => ({ status, body: b });
    const seg = path.split("/").filter(Boolean);
    const [root, pid, sub, sid, sub2, sid2, action] = seg;
    if (root !== "projects") throw new HttpError(404, `no route ${method} ${path}`);

    if (!pid) {
      if (method === "GET") {
        const search = query.get("search") ?? "";
        const projects = [...this.projects.values()]
          .filter((p) => p.name.includes(search) || p.id.includes(search))
          .map((p) => this.projectJson(p));
        return ok({ projects });
      }
      if (method === "POST") return ok(this.createProject(body).body, 201);
    }
    const p = this.project(pid!);
    this.sweepExpired(p);

    if (!sub) {
      if (method === "GET") return ok({ project: this.projectJson(p) });
      if (method === "PATCH") {
        const spec = (body.project ?? {}) as Record<string, unknown>;
        if (spec.name !== undefined) p.name = String(spec.name);
        if (spec.history_retention_seconds !== undefined)
          p.history_retention_seconds = Number(spec.history_retention_seconds);
        if (spec.default_endpoint_settings)
          p.default_endpoint_settings = spec.default_endpoint_settings as Record<string, number>;
        return ok({ project: this.projectJson(p), operations: [] });
      }
      if (method === "DELETE") {
        this.projects.delete(p.id);
        return ok({ project: this.projectJson(p) });
      }
    }

    if (sub === "operations") {
      if (!sid) return ok({ operations: [...p.operations].reverse().map((o) => this.opJson(o)) });
      const op = p.operations.find((o) => o.id === sid);
      if (!op) throw new HttpError(404, `operation ${sid} not found`);
      return ok({ operation: this.opJson(op) });
    }

    if (sub === "endpoints") {
      if (!sid) {
        if (method === "GET") return ok({ endpoints: [...p.endpoints.values()].map((e) => this.endpointJson(e, p)) });
        if (method === "POST") {
          const spec = (body.endpoint ?? {}) as Record<string, unknown>;
          const branchId = String(spec.branch_id);
          this.branch(p, branchId);
          const type = spec.type as FakeEndpoint["type"];
          if (type !== "read_write" && type !== "read_only")
            throw new HttpError(400, `invalid endpoint type ${String(type)}`);
          if (
            type === "read_write" &&
            [...p.endpoints.values()].some((e) => e.branch_id === branchId && e.type === "read_write")
          ) {
            throw new HttpError(400, `branch ${branchId} already has a read_write endpoint`);
          }
          const e: FakeEndpoint = {
            id: this.nextId("ep"),
            branch_id: branchId,
            type,
            ...(spec.name ? { name: String(spec.name) } : {}),
            region_id: String(spec.region_id ?? p.region_id),
            autoscaling_limit_min_cu: Number(spec.autoscaling_limit_min_cu ?? 0.25),
            autoscaling_limit_max_cu: Number(spec.autoscaling_limit_max_cu ?? 0.25),
            suspend_timeout_seconds: Number(spec.suspend_timeout_seconds ?? 0),
          };
          p.endpoints.set(e.id, e);
          const op = this.startOp(p, "start_compute", { branch_id: branchId, endpoint_id: e.id });
          return ok({ endpoint: this.endpointJson(e, p), operations: [this.opJson(op)] }, 201);
        }
      }
      const e = p.endpoints.get(sid!);
      if (!e) throw new HttpError(404, `endpoint ${sid} not found`);
      if (method === "GET") return ok({ endpoint: this.endpointJson(e, p) });
      if (method === "PATCH") {
        const spec = (body.endpoint ?? {}) as Record<string, unknown>;
        for (const k of [
          "name",
          "autoscaling_limit_min_cu",
          "autoscaling_limit_max_cu",
          "suspend_timeout_seconds",
        ] as const) {
          if (spec[k] !== undefined) (e as unknown as Record<string, unknown>)[k] = spec[k];
        }
        const op = this.startOp(p, "apply_config", { branch_id: e.branch_id, endpoint_id: e.id });
        return ok({ endpoint: this.endpointJson(e, p), operations: [this.opJson(op)] });
      }
      if (method === "DELETE") {
        p.endpoints.delete(e.id);
        const op = this.startOp(p, "suspend_compute", { branch_id: e.branch_id, endpoint_id: e.id });
        return ok({ endpoint: this.endpointJson(e, p), operations: [this.opJson(op)] });
      }
    }

    if (sub === "branches") {
      if (sid === "count" && method === "GET") return ok({ count: p.branches.size });
      if (!sid) {
        if (method === "GET") {
          const search = query.get("search") ?? "";
          const branches = [...p.branches.values()]
            .filter((b) => b.name.includes(search) || b.id.includes(search))
            .map((b) => this.branchJson(b, p));
          return ok({ branches });
        }
        if (method === "POST") {
          const spec = (body.branch ?? {}) as Record<string, unknown>;
          const parent = spec.parent_id
            ? this.branch(p, String(spec.parent_id))
            : [...p.branches.values()].find((b) => b.default)!;
          this.checkExpiry(spec.expires_at);
          const b: FakeBranch = {
            id: this.nextId("br"),
            name: String(spec.name ?? `br-${this.seq}`),
            parent_id: parent.id,
            default: false,
            ...(spec.expires_at ? { expires_at: String(spec.expires_at) } : {}),
            created_at: now(),
          };
          p.branches.set(b.id, b);
          // A child branch starts with its parent's roles (same passwords) and databases.
          p.roles.set(
            b.id,
            new Map([...(p.roles.get(parent.id) ?? new Map<string, FakeRole>())].map(([k, r]) => [k, { ...r }])),
          );
          p.databases.set(
            b.id,
            new Map(
              [...(p.databases.get(parent.id) ?? new Map<string, FakeDatabase>())].map(([k, d]) => [
                k,
                { ...d, id: ++this.seq },
              ]),
            ),
          );
          const op = this.startOp(p, "create_branch", { branch_id: b.id });
          return ok({ branch: this.branchJson(b, p), endpoints: [], operations: [this.opJson(op)] }, 201);
        }
      }
      const b = this.branch(p, sid!);
      if (!sub2) {
        if (method === "GET") return ok({ branch: this.branchJson(b, p) });
        if (method === "PATCH") {
          const spec = (body.branch ?? {}) as Record<string, unknown>;
          if (spec.name !== undefined) b.name = String(spec.name);
          if (spec.expires_at === null) delete b.expires_at;
          else if (spec.expires_at !== undefined) {
            this.checkExpiry(spec.expires_at);
            b.expires_at = String(spec.expires_at);
          }
          return ok({ branch: this.branchJson(b, p), operations: [] });
        }
        if (method === "DELETE") {
          if (b.default) throw new HttpError(400, "cannot delete the project's default branch");
          p.branches.delete(b.id);
          p.roles.delete(b.id);
          p.databases.delete(b.id);
          for (const [id, e] of p.endpoints) if (e.branch_id === b.id) p.endpoints.delete(id);
          const op = this.startOp(p, "delete_timeline", { branch_id: b.id });
          return ok({ branch: this.branchJson(b, p), operations: [this.opJson(op)] });
        }
      }
      if (sub2 === "endpoints" && method === "GET") {
        return ok({
          endpoints: [...p.endpoints.values()].filter((e) => e.branch_id === b.id).map((e) => this.endpointJson(e, p)),
        });
      }
      if (sub2 === "roles") return this.roles(method, p, b, sid2, action, body);
      if (sub2 === "databases") return this.databases(method, p, b, sid2, body);
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  }

  private checkExpiry(value: unknown): void {
    if (value === undefined || value === null) return;
    const at = Date.parse(String(value));
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(String(value)) || Number.isNaN(at)) {
      throw new HttpError(400, `expires_at must be RFC 3339 with second precision, got ${String(value)}`);
    }
    if (at > Date.now() + 30 * 24 * 3600 * 1000 + 60_000) throw new HttpError(400, "expires_at must be within 30 days");
  }

  private roles(
    method: string,
    p: FakeProject,
    b: FakeBranch,
    name: string | undefined,
    action: string | undefined,
    body: Record<string, unknown>,
  ) {
    const roles = p.roles.get(b.id) ?? new Map<string, FakeRole>();
    p.roles.set(b.id, roles);
    const json = (r: FakeRole, withPassword = false) => ({
      branch_id: b.id,
      name: r.name,
      ...(withPassword ? { password: r.password } : {}),
      protected: false,
      created_at: now(),
      updated_at: now(),
    });
    const op = () => [this.opJson(this.startOp(p, "apply_config", { branch_id: b.id }))];
    if (!name) {
      if (method === "GET") return { status: 200, body: { roles: [...roles.values()].map((r) => json(r)) } };
      if (method === "POST") {
        const spec = (body.role ?? {}) as Record<string, unknown>;
        const roleName = String(spec.name ?? "");
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(roleName)) throw new HttpError(400, `invalid role name ${roleName}`);
        if (roles.has(roleName)) throw new HttpError(409, `role "${roleName}" already exists`);
        const r: FakeRole = { name: roleName, password: this.password() };
        roles.set(r.name, r);
        return { status: 201, body: { role: json(r, true), operations: op() } };
      }
      throw new HttpError(405, "method not allowed");
    }
    const r = roles.get(name);
    if (!r) throw new HttpError(404, `role ${name} not found`);
    if (action === "reset_password" && method === "POST") {
      r.password = this.password();
      return { status: 200, body: { role: json(r, true), operations: op() } };
    }
    if (action === "reveal_password" && method === "GET") return { status: 200, body: { password: r.password } };
    if (action) throw new HttpError(404, `no route for role ${action}`);
    if (method === "GET") return { status: 200, body: { role: json(r) } };
    if (method === "DELETE") {
      const owned = [...(p.databases.get(b.id)?.values() ?? [])].find((d) => d.owner_name === name);
      if (owned) throw new HttpError(400, `role ${name} owns database ${owned.name}: delete or reassign it first`);
      roles.delete(name);
      return { status: 200, body: { role: json(r), operations: op() } };
    }
    throw new HttpError(405, "method not allowed");
  }

  private databases(
    method: string,
    p: FakeProject,
    b: FakeBranch,
    name: string | undefined,
    body: Record<string, unknown>,
  ) {
    const dbs = p.databases.get(b.id) ?? new Map<string, FakeDatabase>();
    p.databases.set(b.id, dbs);
    const json = (d: FakeDatabase) => ({ ...d, branch_id: b.id, created_at: now(), updated_at: now() });
    const op = () => [this.opJson(this.startOp(p, "apply_config", { branch_id: b.id }))];
    const requireOwner = (owner: unknown) => {
      if (!p.roles.get(b.id)?.has(String(owner))) throw new HttpError(400, `role ${String(owner)} does not exist`);
    };
    if (!name) {
      if (method === "GET") return { status: 200, body: { databases: [...dbs.values()].map(json) } };
      if (method === "POST") {
        const spec = (body.database ?? {}) as Record<string, unknown>;
        const dbName = String(spec.name ?? "");
        if (dbs.has(dbName)) throw new HttpError(409, `database "${dbName}" already exists`);
        requireOwner(spec.owner_name);
        const d: FakeDatabase = { id: ++this.seq, name: dbName, owner_name: String(spec.owner_name) };
        dbs.set(d.name, d);
        return { status: 201, body: { database: json(d), operations: op() } };
      }
      throw new HttpError(405, "method not allowed");
    }
    const d = dbs.get(name);
    if (!d) throw new HttpError(404, `database ${name} not found`);
    if (method === "GET") return { status: 200, body: { database: json(d) } };
    if (method === "PATCH") {
      const spec = (body.database ?? {}) as Record<string, unknown>;
      if (spec.owner_name !== undefined) {
        requireOwner(spec.owner_name);
        d.owner_name = String(spec.owner_name);
      }
      if (spec.name !== undefined && spec.name !== d.name) {
        dbs.delete(d.name);
        d.name = String(spec.name);
        dbs.set(d.name, d);
      }
      return { status: 200, body: { database: json(d), operations: op() } };
    }
    if (method === "DELETE") {
      dbs.delete(name);
      return { status: 200, body: { database: json(d), operations: op() } };
    }
    throw new HttpError(405, "method not allowed");
  }
}
