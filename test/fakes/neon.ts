/**
 * A local fake of the Neon API v2 (HTTP on 127.0.0.1, port 0) for the endpoints the Neon providers use, held to
 * Neon's own OpenAPI document (./neon-spec.ts): every request is validated (a mismatch is answered 400 and
 * recorded), every response too (recorded); tests assert `specViolations` is empty.
 *
 * It does what Neon does on its own, on a clock the tests move (`advance`):
 * - writes start operations that pass through `scheduling` and `running` (optionally `error`, retried by Neon,
 *   or `cancelling`) to `finished`/`failed`/`cancelled`; a write to a project with a running operation gets 423;
 * - branches are deleted with their computes, roles and databases at `expires_at`; `expires_at` is refused on a
 *   default, protected or parent branch; a branch with children cannot be deleted; a deleted thing answers 404;
 * - branch names are unique in a project and a branch holds one read_write compute (409, as Neon answers);
 * - a compute only in the project's region, only Neon's compute sizes with max - min <= 8 CU;
 * - history retention within the plan's cap (`historyRetentionCapSeconds`);
 * - lists are paginated (projects: `limit`/`cursor`; branches: `limit`/`cursor` with `pagination.next`), `search`
 *   matches partially, and a project list may carry `unavailable_project_ids`;
 * - a personal API key (`orgId` set) gets `400 org_id is required` on GET/POST /projects without `org_id`.
 * Faults can be injected per request (status codes, dropped connections, slow answers, a create that succeeds but
 * answers too late, operations that fail or take other paths, background operations that lock the project).
 * Written by hand: no library fakes Neon's control plane, and the tests need its operations and locking.
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { neonSpec, type NeonSpec } from "./neon-spec";

/** An operation's path: each status held for a share of its duration, then its final status. */
export interface OperationPath {
  steps: OperationStatus[];
  final: "finished" | "failed" | "cancelled" | "skipped";
  error?: string;
}
type OperationStatus =
  "scheduling" | "running" | "finished" | "failed" | "error" | "cancelling" | "cancelled" | "skipped";

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
  /** The operations this write starts take this path (e.g. through `error`, or cancelled), over `ms` if given. */
  | { kind: "operationPath"; path: OperationPath; ms?: number }
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
  startedAt: number;
  durationMs: number;
  path: OperationPath;
  /** Started by an API write (its answer lists it) or by Neon itself. */
  origin: "api" | "background";
}

interface FakeBranch {
  id: string;
  name: string;
  parent_id?: string;
  default: boolean;
  protected: boolean;
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
  created_at: string;
}
interface FakeRole {
  name: string;
  password: string;
  created_at: string;
}
interface FakeDatabase {
  id: number;
  name: string;
  owner_name: string;
  created_at: string;
}
interface FakeProject {
  id: string;
  name: string;
  region_id: string;
  pg_version: number;
  history_retention_seconds: number;
  default_endpoint_settings: Record<string, number>;
  org_id?: string;
  created_at: string;
  branches: Map<string, FakeBranch>;
  endpoints: Map<string, FakeEndpoint>;
  roles: Map<string, Map<string, FakeRole>>;
  databases: Map<string, Map<string, FakeDatabase>>;
  operations: Op[];
}

/**
 * What a Neon compute must mirror when the control plane changes a branch (./neon-compute.ts listens): the fake
 * emits these synchronously, in the order it changes its state, after the change and whatever the HTTP answer.
 * Roles and databases belong to a branch; a branch made from a parent starts as a copy of it (`parentId`).
 */
export type ComputeEvent =
  | { kind: "branchCreated"; projectId: string; branchId: string; parentId?: string }
  | { kind: "branchDeleted"; projectId: string; branchId: string }
  | { kind: "roleCreated"; projectId: string; branchId: string; role: string; password: string }
  | { kind: "rolePasswordReset"; projectId: string; branchId: string; role: string; password: string }
  | { kind: "roleDeleted"; projectId: string; branchId: string; role: string }
  | { kind: "databaseCreated"; projectId: string; branchId: string; database: string; owner: string }
  /** `database` is the name before the change; `name` and `owner` after it. */
  | { kind: "databaseUpdated"; projectId: string; branchId: string; database: string; name: string; owner: string }
  | { kind: "databaseDeleted"; projectId: string; branchId: string; database: string };

/** Where an endpoint id leads (Neon's proxy asks its control plane the same when a connection names one). */
export interface EndpointTarget {
  projectId: string;
  branchId: string;
  regionId: string;
  type: "read_write" | "read_only";
}

/** A branch's roles (with passwords) and databases (with owners), as the control plane has them now. */
export interface BranchState {
  roles: { name: string; password: string }[];
  databases: { name: string; owner: string }[];
}

/** The host Neon names for a region: `aws-us-east-2` -> `us-east-2.aws.neon.tech` (endpoint `proxy_host`). */
export function neonProxyHost(region: string): string {
  const [cloud, ...rest] = region.split("-");
  return `${rest.join("-")}.${cloud}.neon.tech`;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number | "dropped";
  requestId?: string;
  authorization?: string;
  body?: unknown;
}

export interface SpecViolation {
  direction: "request" | "response";
  method: string;
  path: string;
  status?: number;
  problems: string[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// Neon's rules pinned here from its docs, not imported from the code under test.
/** Compute sizes: 0.25, 0.5, then whole CUs to 16 (https://neon.com/docs/manage/computes). */
const COMPUTE_SIZES = [0.25, 0.5, ...Array.from({ length: 16 }, (_, i) => i + 1)];
/** "The maximum permitted autoscaling range is 8 CU" (https://neon.com/docs/guides/autoscaling-guide). */
const MAX_AUTOSCALING_RANGE_CU = 8;
/** `expires_at` at most 30 days ahead (https://neon.com/docs/guides/branch-expiration). */
const MAX_EXPIRY_MS = 30 * 24 * 3600 * 1000;

export class FakeNeon {
  readonly projects = new Map<string, FakeProject>();
  readonly requests: RecordedRequest[] = [];
  /** Writes that arrived while an operation an API write had started was still running. */
  readonly writesDuringOperations: { method: string; path: string; operation: string }[] = [];
  /** Requests and responses that broke Neon's OpenAPI document. */
  readonly specViolations: SpecViolation[] = [];
  /** Branches Neon deleted at their `expires_at`. */
  readonly expired: { project_id: string; branch_id: string; name: string }[] = [];
  /** How long an operation runs (ms of the fake's clock). */
  operationMs = 20;
  /** The plan's cap on history retention (Scale: 30 days). */
  historyRetentionCapSeconds = 2_592_000;
  /** The project owner's plan allowance of branches per project (`project.owner.branches_limit`). */
  branchesLimit = 10;
  /** Set: the key is a personal API key, and project lists and creates need this `org_id`. */
  orgId?: string;
  /** Default page sizes (Neon's project list default is 10). */
  pageSize = 10;
  /** The base URL the client takes, once started. */
  baseUrl?: string;
  private offsetMs = 0;
  private readonly unavailable = new Map<string, number>();
  private readonly faults: FaultRule[] = [];
  private readonly sockets = new Set<Socket>();
  private server?: http.Server;
  private spec?: NeonSpec;
  private seq = 0;
  private readonly computeListeners = new Set<(e: ComputeEvent) => void>();

  constructor(readonly apiKey = "neon-test-key") {}

  /** Starts listening; resolves to the base URL the client takes (`.../api/v2`). */
  async start(): Promise<string> {
    this.spec = await neonSpec();
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v2`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  inject(rule: FaultRule): void {
    this.faults.push({ times: 1, ...rule });
  }

  /** The fake's clock: real time plus what the test advanced. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves the clock on (operations finish, branches expire); the next request sees it. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** The next `times` project lists leave this project out and name it in `unavailable_project_ids`. */
  makeUnavailable(projectId: string, times = 1): void {
    this.unavailable.set(projectId, times);
  }

  /** Requests matching a method and path, as recorded (including refused and dropped ones). */
  calls(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  /** Everything that exists, for final-state assertions. */
  snapshot() {
    this.sweepExpired();
    return [...this.projects.values()].map((p) => ({
      id: p.id,
      name: p.name,
      pg_version: p.pg_version,
      region_id: p.region_id,
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
      runningOperations: p.operations.filter((o) => !this.isFinal(this.status(o))).length,
    }));
  }

  /** Adds a project directly (a parent stack's project that a preview branches from). */
  seedProject(name: string, opts: { databaseName?: string; roleName?: string } = {}): FakeProject {
    const { p } = this.createProject({
      project: { name, branch: { database_name: opts.databaseName, role_name: opts.roleName } },
    });
    // An existing project: its creation finished long ago.
    for (const op of p.operations) op.startedAt = 0;
    return p;
  }

  /** What someone does in Neon's console: deletes a branch (with its computes, roles and databases). */
  deleteBranchOutside(projectId: string, branchId: string): void {
    this.dropBranch(this.project(projectId), branchId);
  }

  /**
   * Calls `listener` with every change a compute must mirror (roles, passwords, databases, branches); returns the
   * function that removes it. A listener that throws does not change the fake's answer.
   */
  onComputeEvent(listener: (e: ComputeEvent) => void): () => void {
    this.computeListeners.add(listener);
    return () => this.computeListeners.delete(listener);
  }

  /** The branch behind an endpoint id, or undefined when no live endpoint has it. */
  endpointTarget(endpointId: string): EndpointTarget | undefined {
    this.sweepExpired();
    for (const p of this.projects.values()) {
      const e = p.endpoints.get(endpointId);
      if (e) return { projectId: p.id, branchId: e.branch_id, regionId: e.region_id, type: e.type };
    }
    return undefined;
  }

  /** A branch's roles and databases now, or undefined when the branch does not exist. */
  branchState(projectId: string, branchId: string): BranchState | undefined {
    const p = this.projects.get(projectId);
    if (!p?.branches.has(branchId)) return undefined;
    return {
      roles: [...(p.roles.get(branchId)?.values() ?? [])].map((r) => ({ name: r.name, password: r.password })),
      databases: [...(p.databases.get(branchId)?.values() ?? [])].map((d) => ({ name: d.name, owner: d.owner_name })),
    };
  }

  private emit(e: ComputeEvent): void {
    for (const l of this.computeListeners) {
      try {
        l(e);
      } catch {
        // A compute's failure is the compute's to report; the control plane answers as before.
      }
    }
  }

  /** Marks a branch protected, as the console can. */
  protectBranch(projectId: string, branchId: string): void {
    this.branch(this.project(projectId), branchId).protected = true;
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname.replace(/^\/api\/v2/, "");
    const method = req.method ?? "GET";
    const requestId = String(req.headers["x-request-id"] ?? `fake-${++this.seq}`);
    const query = Object.fromEntries(url.searchParams);
    const record: RecordedRequest = {
      method,
      path,
      query,
      status: 0,
      requestId,
      authorization: req.headers.authorization,
    };
    this.requests.push(record);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let operationId: string | undefined;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      if (operationId) {
        const problems = this.spec!.checkResponse(operationId, status, body);
        if (problems.length) this.specViolations.push({ direction: "response", method, path, status, problems });
      }
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
    let json: Record<string, unknown> | undefined;
    try {
      json = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : undefined;
    } catch {
      return fail(400, "request body is not JSON");
    }
    record.body = json;
    const checked = this.spec!.checkRequest({ method, path, query, headers: req.headers, body: json });
    operationId = checked.operationId;
    if (checked.problems.length) {
      this.specViolations.push({ direction: "request", method, path, problems: checked.problems });
      return fail(400, `request does not match Neon's API: ${checked.problems.join("; ")}`);
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
      this.sweepExpired();
      if (method !== "GET") {
        const projectId = /^\/projects\/([^/]+)/.exec(path)?.[1];
        const p = projectId ? this.projects.get(projectId) : undefined;
        if (p && fault?.kind === "backgroundOperation") {
          this.startOp(p, "check_availability", {}, "background", fault.ms);
        }
        if (p) this.refuseWhileRunning(p, method, path);
      }
      this.pathNext =
        fault?.kind === "failOperations"
          ? { steps: ["scheduling", "running"], final: "failed", error: fault.error ?? "compute failed to start" }
          : fault?.kind === "operationPath"
            ? fault.path
            : undefined;
      this.durationNext = fault?.kind === "slowOperations" || fault?.kind === "operationPath" ? fault.ms : undefined;
      ({ status, body } = this.route(method, path, url.searchParams, json ?? {}));
    } catch (e) {
      if (e instanceof HttpError) return fail(e.status, e.message);
      return fail(500, (e as Error).message);
    } finally {
      this.pathNext = undefined;
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

  private stamp(ms = this.now()): string {
    return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  // ---- operations ---------------------------------------------------------------------------------------------

  private pathNext: OperationPath | undefined;
  private durationNext: number | undefined;

  private isFinal(status: string): boolean {
    return status === "finished" || status === "failed" || status === "cancelled" || status === "skipped";
  }

  private status(op: Op): OperationStatus {
    const elapsed = this.now() - op.startedAt;
    if (elapsed >= op.durationMs) return op.path.final;
    const i = Math.floor((elapsed / op.durationMs) * op.path.steps.length);
    return op.path.steps[Math.min(i, op.path.steps.length - 1)]!;
  }

  private opJson(op: Op) {
    const status = this.status(op);
    const errorsSoFar = op.path.steps
      .slice(0, Math.floor(((this.now() - op.startedAt) / op.durationMs) * op.path.steps.length) + 1)
      .filter((s) => s === "error").length;
    return {
      id: op.id,
      project_id: op.project_id,
      ...(op.branch_id ? { branch_id: op.branch_id } : {}),
      ...(op.endpoint_id ? { endpoint_id: op.endpoint_id } : {}),
      action: op.action,
      status,
      ...(status === "failed" || status === "error" ? { error: op.path.error ?? "operation failed" } : {}),
      failures_count: errorsSoFar + (status === "failed" ? 1 : 0),
      created_at: this.stamp(op.startedAt),
      updated_at: this.stamp(),
      total_duration_ms: Math.min(op.durationMs, Math.max(0, this.now() - op.startedAt)),
    };
  }

  private startOp(
    p: FakeProject,
    action: string,
    ids: { branch_id?: string; endpoint_id?: string },
    origin: Op["origin"] = "api",
    ms = this.durationNext ?? this.operationMs,
  ): Op {
    const path: OperationPath =
      origin === "api" && this.pathNext ? this.pathNext : { steps: ["scheduling", "running"], final: "finished" };
    const op: Op = {
      id: globalThis.crypto.randomUUID(),
      project_id: p.id,
      ...ids,
      action,
      startedAt: this.now(),
      durationMs: ms,
      path,
      origin,
    };
    p.operations.push(op);
    return op;
  }

  private refuseWhileRunning(p: FakeProject, method: string, path: string): void {
    const running = p.operations.filter((o) => !this.isFinal(this.status(o)));
    if (running.length === 0) return;
    const ours = running.find((o) => o.origin === "api");
    if (ours) this.writesDuringOperations.push({ method, path, operation: ours.id });
    throw new HttpError(
      423,
      "project already has running conflicting operations, scheduling of new ones is prohibited",
    );
  }

  // ---- expiry -------------------------------------------------------------------------------------------------

  /**
   * Neon's background job: branches past `expires_at` go, with their computes, roles and databases ("scheduled to
   * expire and be automatically deleted", BranchCreateRequest.expires_at in Neon's OpenAPI document).
   */
  private sweepExpired(): void {
    for (const p of this.projects.values()) {
      for (const b of [...p.branches.values()]) {
        if (b.expires_at && Date.parse(b.expires_at) <= this.now()) {
          this.dropBranch(p, b.id);
          this.expired.push({ project_id: p.id, branch_id: b.id, name: b.name });
        }
      }
    }
  }

  private dropBranch(p: FakeProject, branchId: string): void {
    const existed = p.branches.has(branchId);
    p.branches.delete(branchId);
    p.roles.delete(branchId);
    p.databases.delete(branchId);
    for (const [id, e] of p.endpoints) if (e.branch_id === branchId) p.endpoints.delete(id);
    if (existed) this.emit({ kind: "branchDeleted", projectId: p.id, branchId });
  }

  // ---- resources ----------------------------------------------------------------------------------------------

  private nextId(prefix: string): string {
    const words = ["quiet", "bold", "misty", "sweet", "young", "dawn", "frost", "lake"];
    const n = ++this.seq;
    return `${prefix}-${words[n % words.length]}-${words[(n >> 3) % words.length]}-${String(n).padStart(6, "0")}`;
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

  private proxyHost(region: string): string {
    return neonProxyHost(region);
  }

  private projectListJson(p: FakeProject) {
    return {
      id: p.id,
      platform_id: "aws",
      region_id: p.region_id,
      name: p.name,
      provisioner: "k8s-neonvm",
      default_endpoint_settings: p.default_endpoint_settings,
      pg_version: p.pg_version,
      proxy_host: this.proxyHost(p.region_id),
      branch_logical_size_limit: 0,
      branch_logical_size_limit_bytes: 10800,
      store_passwords: true,
      active_time: 0,
      cpu_used_sec: 0,
      creation_source: "api",
      created_at: p.created_at,
      updated_at: this.stamp(),
      owner_id: "user-fake",
      history_retention_seconds: p.history_retention_seconds,
      ...(p.org_id ? { org_id: p.org_id } : {}),
    };
  }

  private projectJson(p: FakeProject) {
    const { active_time: _a, ...rest } = this.projectListJson(p);
    return {
      ...rest,
      consumption_period_start: p.created_at,
      consumption_period_end: this.stamp(this.now() + 30 * 24 * 3600_000),
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      data_storage_bytes_hour: 0,
      // Only the single-project response carries `owner` (ProjectListItem has none in the spec).
      owner: {
        name: "Mauntic",
        email: "infra@example.com",
        branches_limit: this.branchesLimit,
        subscription_type: "launch",
      },
    };
  }

  private endpointJson(e: FakeEndpoint, p: FakeProject) {
    const { created_at, ...fields } = e;
    return {
      ...fields,
      project_id: p.id,
      host: `${e.id}.${this.proxyHost(e.region_id)}`,
      proxy_host: this.proxyHost(e.region_id),
      current_state: "idle",
      pooler_enabled: false,
      pooler_mode: "transaction",
      disabled: false,
      passwordless_access: true,
      creation_source: "api",
      settings: {},
      provisioner: "k8s-neonvm",
      created_at,
      updated_at: this.stamp(),
    };
  }

  private branchJson(b: FakeBranch, p: FakeProject) {
    return {
      id: b.id,
      project_id: p.id,
      ...(b.parent_id ? { parent_id: b.parent_id } : {}),
      name: b.name,
      current_state: "ready",
      state_changed_at: b.created_at,
      creation_source: "api",
      created_at: b.created_at,
      updated_at: this.stamp(),
      default: b.default,
      protected: b.protected,
      cpu_used_sec: 0,
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      ...(b.expires_at ? { expires_at: b.expires_at } : {}),
    };
  }

  private password(): string {
    return `npg_${Math.random().toString(36).slice(2, 14)}`;
  }

  /** Neon's compute rules the spec's `minimum: 0.25` does not say. */
  private checkCompute(c: Record<string, unknown>, at: string): void {
    const sizes = COMPUTE_SIZES;
    for (const k of ["autoscaling_limit_min_cu", "autoscaling_limit_max_cu"]) {
      if (c[k] !== undefined && !sizes.includes(Number(c[k]))) {
        throw new HttpError(400, `${at}${k}: ${String(c[k])} is not a supported compute size`);
      }
    }
    const min = Number(c.autoscaling_limit_min_cu ?? 0.25);
    const max = Number(c.autoscaling_limit_max_cu ?? min);
    if (max < min) throw new HttpError(400, `${at}autoscaling_limit_max_cu must be >= autoscaling_limit_min_cu`);
    if (max - min > MAX_AUTOSCALING_RANGE_CU) {
      throw new HttpError(400, `${at}autoscaling range ${min}-${max} CU exceeds the maximum of 8 CU`);
    }
    const s = c.suspend_timeout_seconds;
    if (s !== undefined && Number(s) > 0 && Number(s) < 60) {
      throw new HttpError(400, `${at}suspend_timeout_seconds must be -1, 0 or 60..604800`);
    }
  }

  private checkRetention(h: unknown): void {
    if (h !== undefined && Number(h) > this.historyRetentionCapSeconds) {
      throw new HttpError(
        400,
        `history_retention_seconds ${String(h)} exceeds your plan's limit of ${this.historyRetentionCapSeconds}`,
      );
    }
  }

  private checkOrg(query: URLSearchParams, body?: Record<string, unknown>): string | undefined {
    if (!this.orgId) return undefined;
    const given = query.get("org_id") ?? (body?.org_id as string | undefined);
    if (!given) throw new HttpError(400, "org_id is required");
    if (given !== this.orgId) throw new HttpError(404, `organization ${given} not found`);
    return given;
  }

  private createProject(body: Record<string, unknown>, orgId?: string) {
    const spec = (body.project ?? {}) as Record<string, unknown>;
    const branchSpec = (spec.branch ?? {}) as Record<string, string | undefined>;
    const settings = (spec.default_endpoint_settings as Record<string, number>) ?? {};
    this.checkCompute(settings, "default_endpoint_settings.");
    this.checkRetention(spec.history_retention_seconds);
    const p: FakeProject = {
      id: this.nextId("prj"),
      name: String(spec.name ?? "project"),
      region_id: String(spec.region_id ?? "aws-us-east-2"),
      pg_version: Number(spec.pg_version ?? 17),
      history_retention_seconds: Number(spec.history_retention_seconds ?? 86400),
      default_endpoint_settings: settings,
      ...(orgId ? { org_id: orgId } : {}),
      created_at: this.stamp(),
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
      protected: false,
      created_at: this.stamp(),
    };
    p.branches.set(main.id, main);
    const dbName = branchSpec.database_name ?? "neondb";
    const role: FakeRole = {
      name: branchSpec.role_name ?? `${dbName}_owner`,
      password: this.password(),
      created_at: this.stamp(),
    };
    p.roles.set(main.id, new Map([[role.name, role]]));
    const db: FakeDatabase = { id: ++this.seq, name: dbName, owner_name: role.name, created_at: this.stamp() };
    p.databases.set(main.id, new Map([[db.name, db]]));
    const ep: FakeEndpoint = {
      id: this.nextId("ep"),
      branch_id: main.id,
      type: "read_write",
      region_id: p.region_id,
      autoscaling_limit_min_cu: settings.autoscaling_limit_min_cu ?? 0.25,
      autoscaling_limit_max_cu: settings.autoscaling_limit_max_cu ?? 0.25,
      suspend_timeout_seconds: settings.suspend_timeout_seconds ?? 0,
      created_at: this.stamp(),
    };
    p.endpoints.set(ep.id, ep);
    // The default branch with its role and database (the compute reads them from branchState).
    this.emit({ kind: "branchCreated", projectId: p.id, branchId: main.id });
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
        roles: [
          {
            branch_id: main.id,
            name: role.name,
            password: role.password,
            protected: false,
            created_at: role.created_at,
            updated_at: role.created_at,
          },
        ],
        databases: [this.databaseJson(db, main.id)],
        operations: ops.map((o) => this.opJson(o)),
        connection_uris: [],
      },
    };
  }

  private databaseJson(d: FakeDatabase, branchId: string) {
    return {
      id: d.id,
      branch_id: branchId,
      name: d.name,
      owner_name: d.owner_name,
      created_at: d.created_at,
      updated_at: this.stamp(),
    };
  }

  /** A page of `items` after `cursor` (an item's key), at most `limit` long. */
  private page<T>(
    items: T[],
    key: (t: T) => string,
    query: URLSearchParams,
  ): { items: T[]; last?: string; more: boolean } {
    const limit = Number(query.get("limit") ?? this.pageSize);
    const cursor = query.get("cursor");
    const start = cursor ? items.findIndex((t) => key(t) === cursor) + 1 : 0;
    const slice = items.slice(start, start + limit);
    return { items: slice, last: slice.length ? key(slice.at(-1)!) : undefined, more: start + limit < items.length };
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
        const org = this.checkOrg(query);
        const search = query.get("search") ?? "";
        const matching = [...this.projects.values()].filter(
          (p) => (p.name.includes(search) || p.id.includes(search)) && (!org || p.org_id === org),
        );
        const unavailable = matching.filter((p) => (this.unavailable.get(p.id) ?? 0) > 0).map((p) => p.id);
        for (const id of unavailable) this.unavailable.set(id, this.unavailable.get(id)! - 1);
        const { items, last } = this.page(
          matching.filter((p) => !unavailable.includes(p.id)),
          (p) => p.id,
          query,
        );
        return ok({
          projects: items.map((p) => this.projectListJson(p)),
          applications: {},
          integrations: {},
          ...(last ? { pagination: { cursor: last } } : {}),
          ...(unavailable.length ? { unavailable_project_ids: unavailable } : {}),
        });
      }
      if (method === "POST") {
        const org = this.checkOrg(query, body.project as Record<string, unknown>);
        return ok(this.createProject(body, org).body, 201);
      }
    }
    const p = this.project(pid!);

    if (!sub) {
      if (method === "GET") return ok({ project: this.projectJson(p) });
      if (method === "PATCH") {
        const spec = (body.project ?? {}) as Record<string, unknown>;
        if (spec.default_endpoint_settings) {
          this.checkCompute(spec.default_endpoint_settings as Record<string, unknown>, "default_endpoint_settings.");
        }
        this.checkRetention(spec.history_retention_seconds);
        if (spec.name !== undefined) p.name = String(spec.name);
        if (spec.history_retention_seconds !== undefined)
          p.history_retention_seconds = Number(spec.history_retention_seconds);
        if (spec.default_endpoint_settings)
          p.default_endpoint_settings = spec.default_endpoint_settings as Record<string, number>;
        return ok({ project: this.projectJson(p), operations: [] });
      }
      if (method === "DELETE") {
        this.projects.delete(p.id);
        for (const branchId of p.branches.keys()) this.emit({ kind: "branchDeleted", projectId: p.id, branchId });
        return ok({ project: this.projectJson(p) });
      }
    }

    if (sub === "operations") {
      if (!sid) {
        const ops = [...p.operations].reverse().map((o) => this.opJson(o));
        return ok({ operations: ops.slice(0, Number(query.get("limit") ?? 10)) });
      }
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
          // "Only the project's region_id is permitted" (EndpointCreateRequest.region_id).
          if (spec.region_id !== undefined && spec.region_id !== p.region_id) {
            throw new HttpError(400, `region_id ${String(spec.region_id)} is not the project's region ${p.region_id}`);
          }
          this.checkCompute(spec, "");
          if (
            type === "read_write" &&
            [...p.endpoints.values()].some((e) => e.branch_id === branchId && e.type === "read_write")
          ) {
            throw new HttpError(409, `read-write endpoint already exists on branch ${branchId}`);
          }
          const e: FakeEndpoint = {
            id: this.nextId("ep"),
            branch_id: branchId,
            type,
            ...(spec.name ? { name: String(spec.name) } : {}),
            region_id: p.region_id,
            autoscaling_limit_min_cu: Number(spec.autoscaling_limit_min_cu ?? 0.25),
            autoscaling_limit_max_cu: Number(spec.autoscaling_limit_max_cu ?? 0.25),
            suspend_timeout_seconds: Number(spec.suspend_timeout_seconds ?? 0),
            created_at: this.stamp(),
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
        this.checkCompute({ ...e, ...spec }, "");
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
          const matching = [...p.branches.values()].filter((b) => b.name.includes(search) || b.id.includes(search));
          const { items, last, more } = this.page(matching, (b) => b.id, query);
          return ok({
            branches: items.map((b) => this.branchJson(b, p)),
            annotations: {},
            pagination: { ...(more && last ? { next: last } : {}), sort_by: "updated_at", sort_order: "desc" },
          });
        }
        if (method === "POST") {
          const spec = (body.branch ?? {}) as Record<string, unknown>;
          const parent = spec.parent_id
            ? this.branch(p, String(spec.parent_id))
            : [...p.branches.values()].find((b) => b.default)!;
          const name = String(spec.name ?? this.nextId("br"));
          // neondatabase/create-branch-action#34: "branch with the provided name ... already exists" (409).
          if ([...p.branches.values()].some((b) => b.name === name)) {
            throw new HttpError(409, `branch with the provided name "${name}" already exists`);
          }
          this.checkExpiry(spec.expires_at);
          const b: FakeBranch = {
            id: this.nextId("br"),
            name,
            parent_id: parent.id,
            default: false,
            protected: spec.protected === true,
            ...(spec.expires_at ? { expires_at: String(spec.expires_at) } : {}),
            created_at: this.stamp(),
          };
          if (b.protected && b.expires_at) throw new HttpError(400, "a protected branch cannot expire");
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
          this.emit({ kind: "branchCreated", projectId: p.id, branchId: b.id, parentId: parent.id });
          const op = this.startOp(p, "create_branch", { branch_id: b.id });
          return ok(
            { branch: this.branchJson(b, p), endpoints: [], operations: [this.opJson(op)], roles: [], databases: [] },
            201,
          );
        }
      }
      const b = this.branch(p, sid!);
      if (!sub2) {
        if (method === "GET") {
          // A branch's annotation is always there (AnnotationResponse), empty unless someone annotated it.
          return ok({
            branch: this.branchJson(b, p),
            annotation: { object: { type: "console/branch", id: b.id }, value: {} },
          });
        }
        if (method === "PATCH") {
          const spec = (body.branch ?? {}) as Record<string, unknown>;
          if (spec.name !== undefined && spec.name !== b.name) {
            if ([...p.branches.values()].some((o) => o.name === spec.name)) {
              throw new HttpError(409, `branch with the provided name "${String(spec.name)}" already exists`);
            }
          }
          if (spec.expires_at !== undefined && spec.expires_at !== null) {
            this.checkExpiry(spec.expires_at);
            if (b.default) throw new HttpError(400, "expires_at cannot be set on the default branch");
            if (b.protected || spec.protected === true)
              throw new HttpError(400, "expires_at cannot be set on a protected branch");
            if (this.children(p, b.id).length) {
              throw new HttpError(400, "expires_at cannot be set on a branch that has child branches");
            }
          }
          if (spec.name !== undefined) b.name = String(spec.name);
          if (spec.expires_at === null) delete b.expires_at;
          else if (spec.expires_at !== undefined) b.expires_at = String(spec.expires_at);
          return ok({ branch: this.branchJson(b, p), operations: [] });
        }
        if (method === "DELETE") {
          if (b.default) throw new HttpError(400, "cannot delete the project's default branch");
          // "Protected branches cannot be deleted" (https://neon.com/docs/guides/protected-branches).
          if (b.protected) throw new HttpError(400, `branch ${b.id} is protected and cannot be deleted`);
          if (this.children(p, b.id).length) {
            throw new HttpError(400, `branch ${b.id} has child branches: delete them first`);
          }
          this.dropBranch(p, b.id);
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

  private children(p: FakeProject, branchId: string): FakeBranch[] {
    return [...p.branches.values()].filter((c) => c.parent_id === branchId);
  }

  private checkExpiry(value: unknown): void {
    if (value === undefined || value === null) return;
    const at = Date.parse(String(value));
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(String(value)) || Number.isNaN(at)) {
      throw new HttpError(400, `expires_at must be RFC 3339 with second precision, got ${String(value)}`);
    }
    if (at <= this.now()) throw new HttpError(400, "expires_at must be in the future");
    if (at > this.now() + MAX_EXPIRY_MS + 60_000) throw new HttpError(400, "expires_at must be within 30 days");
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
      created_at: r.created_at,
      updated_at: this.stamp(),
    });
    const op = () => [this.opJson(this.startOp(p, "apply_config", { branch_id: b.id }))];
    if (!name) {
      if (method === "GET") return { status: 200, body: { roles: [...roles.values()].map((r) => json(r)) } };
      if (method === "POST") {
        const spec = (body.role ?? {}) as Record<string, unknown>;
        const roleName = String(spec.name ?? "");
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(roleName)) throw new HttpError(400, `invalid role name ${roleName}`);
        if (roles.has(roleName)) throw new HttpError(409, `role "${roleName}" already exists`);
        const r: FakeRole = { name: roleName, password: this.password(), created_at: this.stamp() };
        roles.set(r.name, r);
        this.emit({ kind: "roleCreated", projectId: p.id, branchId: b.id, role: r.name, password: r.password });
        return { status: 201, body: { role: json(r, true), operations: op() } };
      }
      throw new HttpError(405, "method not allowed");
    }
    const r = roles.get(name);
    if (!r) throw new HttpError(404, `role ${name} not found`);
    if (action === "reset_password" && method === "POST") {
      r.password = this.password();
      this.emit({ kind: "rolePasswordReset", projectId: p.id, branchId: b.id, role: r.name, password: r.password });
      return { status: 200, body: { role: json(r, true), operations: op() } };
    }
    if (action === "reveal_password" && method === "GET") return { status: 200, body: { password: r.password } };
    if (action) throw new HttpError(404, `no route for role ${action}`);
    if (method === "GET") return { status: 200, body: { role: json(r) } };
    if (method === "DELETE") {
      const owned = [...(p.databases.get(b.id)?.values() ?? [])].find((d) => d.owner_name === name);
      if (owned) throw new HttpError(400, `role ${name} owns database ${owned.name}: delete or reassign it first`);
      roles.delete(name);
      this.emit({ kind: "roleDeleted", projectId: p.id, branchId: b.id, role: name });
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
    const json = (d: FakeDatabase) => this.databaseJson(d, b.id);
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
        const d: FakeDatabase = {
          id: ++this.seq,
          name: dbName,
          owner_name: String(spec.owner_name),
          created_at: this.stamp(),
        };
        dbs.set(d.name, d);
        this.emit({ kind: "databaseCreated", projectId: p.id, branchId: b.id, database: d.name, owner: d.owner_name });
        return { status: 201, body: { database: json(d), operations: op() } };
      }
      throw new HttpError(405, "method not allowed");
    }
    const d = dbs.get(name);
    if (!d) throw new HttpError(404, `database ${name} not found`);
    if (method === "GET") return { status: 200, body: { database: json(d) } };
    if (method === "PATCH") {
      const spec = (body.database ?? {}) as Record<string, unknown>;
      if (spec.owner_name !== undefined) requireOwner(spec.owner_name);
      if (spec.name !== undefined && spec.name !== d.name && dbs.has(String(spec.name))) {
        throw new HttpError(409, `database "${String(spec.name)}" already exists`);
      }
      const before = d.name;
      if (spec.owner_name !== undefined) d.owner_name = String(spec.owner_name);
      if (spec.name !== undefined && spec.name !== d.name) {
        dbs.delete(d.name);
        d.name = String(spec.name);
        dbs.set(d.name, d);
      }
      this.emit({
        kind: "databaseUpdated",
        projectId: p.id,
        branchId: b.id,
        database: before,
        name: d.name,
        owner: d.owner_name,
      });
      return { status: 200, body: { database: json(d), operations: op() } };
    }
    if (method === "DELETE") {
      dbs.delete(name);
      this.emit({ kind: "databaseDeleted", projectId: p.id, branchId: b.id, database: name });
      return { status: 200, body: { database: json(d), operations: op() } };
    }
    throw new HttpError(405, "method not allowed");
  }
}
