/**
 * A local fake of Fly's Machines API (HTTP on 127.0.0.1, port 0) for the operations the Fly providers use. Every
 * request and every answer is checked against our model of Fly's Machines API contract (./fly-contract.ts, zod
 * schemas whose field names follow Fly's OpenAPI document); a request that breaks it gets a 400 and is
 * recorded in `violations`. Fly's own behaviour is modelled: machines move through created / starting / started /
 * stopping / stopped / destroyed on timers, `/wait` blocks up to its timeout and answers 408, leases lock a machine
 * (409 for anyone without the nonce) and expire, requests are rate-limited per action and machine (429), app names
 * are global (422 name_taken), a started machine cannot be destroyed without force, an attached volume cannot be
 * deleted, and deleting an app deletes its machines and volumes. Faults are injected per request (statuses such as
 * 5xx or 503 insufficient_capacity, dropped connections, answers after the change was applied, slow answers, a
 * lease someone else holds, slow machine starts). Written by hand: no library fakes Fly's control plane.
 *
 * Production shapes, and where each comes from (where Fly's OpenAPI document disagrees, Fly's own clients win):
 * - lease answers `{status, data: {nonce, expires_at, owner, description, version}}` (fly-go `MachineLease{Status,
 *   Data *MachineLeaseData}`, flyctl reads `lease.Data.Nonce`, Fly docs' lease example); the release answers
 *   `{status, data: {ok}}` (docs example); `?ttl=` as fly-go AcquireLease sends it, or `ttl` in the body as the docs;
 * - durations come back as Go's time.Duration.String(): "60s" -> "1m0s" (fly-go duration.go);
 * - a new app and a new machine answer 404 for `visibleMs` (fly-go WaitForApp retries 404/401; flyctl's
 *   WaitForState retries 404 for a just-created machine); an app of another organization answers 403 (fly-go
 *   AppNameAvailable);
 * - an app delete answers 202 and the app goes `deleteMs` later, never while a machine still runs unless `force`
 *   (Fly docs, Apps resource: Delete an app);
 * - a volume stays bound for `boundMs` after its machine is destroyed: delete answers 412 failed_precondition
 *   (fly-apps/terraform-provider-fly#218, #154);
 * - extend answers `{volume, needs_restart}` (fly-go ExtendVolumeResponse), true while its machine runs;
 * - machines carry `checks: [{name, status, output}]` (fly-go MachineCheckStatus): passing `checksPassMs` after
 *   the start, or critical for a machine named in `unhealthy`; a machine named in `failing` ends its next start
 *   `failed`; `/wait?state=settled` ends at any resting state (flyctl internal/machine/update.go);
 * - the fake checks what the client sends: a stop's body (`stops`), min_secrets_version on create and update,
 *   and that a Retry-After it sent was waited out (else a violation).
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { checkRequest, checkResponse, matchOperation, type Operation } from "./fly-contract";

export type Fault =
  /** Answer with this status and Fly's error body (`status` word optional) without touching state. */
  | { kind: "status"; status: number; flyStatus?: string; message?: string; retryAfterSeconds?: number }
  /** Destroy the connection before the request is handled (nothing applied). */
  | { kind: "drop" }
  /** Handle the request, then destroy the connection before answering (applied, the client never hears). */
  | { kind: "dropAfterCommit" }
  /** Handle the request, then hold the answer for `ms`. */
  | { kind: "answerLate"; ms: number }
  /** Wait `ms` before handling the request. */
  | { kind: "slow"; ms: number }
  /** Someone else (another deploy, flyctl) takes the machine's lease for `ms` just before this request. */
  | { kind: "foreignLease"; ms: number }
  /** The machine this request starts (create, update, start) takes `ms` to reach started. */
  | { kind: "slowStart"; ms: number };

export interface FaultRule {
  method?: string;
  /** Matched against the path below /v1, e.g. /apps/x/machines. */
  path?: RegExp;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  fault: Fault;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number | "dropped";
  /** The query string as sent, e.g. `?version=2`. */
  search?: string;
  operation?: string;
  authorization?: string;
}

type State =
  | "created"
  | "starting"
  | "started"
  | "stopping"
  | "stopped"
  | "suspended"
  | "replacing"
  | "failed"
  | "destroying"
  | "destroyed";
const SETTLED: readonly string[] = ["started", "stopped", "suspended", "failed"];

/** Go's time.Duration.String() for a whole number of milliseconds (fly-go duration.go marshals with it). */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}
function parseGoDuration(d: unknown): number | undefined {
  if (typeof d !== "string" || !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(d)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  for (const [, n, , u] of d.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += Number(n) * unit[u!]!;
  return ms;
}

interface FakeMachine {
  id: string;
  name: string;
  region: string;
  config: Record<string, unknown>;
  state: State;
  version: string;
  private_ip: string;
  created_at: string;
  updated_at: string;
  secretsVersion: number;
  /** The min_secrets_version of the last create or update. */
  minSecretsVersion?: number;
  visibleAt: number;
  startedAt?: number;
  lease?: { nonce: string; owner: string; description: string; expiresAt: number };
  timers: NodeJS.Timeout[];
  /** A start in progress belongs to an update (for the rolling-update check). */
  updating: boolean;
}
interface FakeVolume {
  id: string;
  name: string;
  region: string;
  size_gb: number;
  encrypted: boolean;
  snapshot_retention: number;
  state: string;
  attached_machine_id?: string;
  /** Still bound to a destroyed machine until then (ms epoch). */
  boundUntil?: number;
  created_at: string;
  zone: string;
  compute?: unknown;
  needsRestart?: boolean;
}
interface FakeApp {
  id: string;
  name: string;
  org_slug: string;
  network?: string;
  idempotencyKey?: string;
  visibleAt: number;
  deleting?: boolean;
  secrets: Map<string, { value: string; created_at: string; updated_at: string }>;
  secretsVersion: number;
  machines: Map<string, FakeMachine>;
  volumes: Map<string, FakeVolume>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly flyStatus?: string,
  ) {
    super(message);
  }
}

const iso = () => new Date().toISOString();
const hex = (n: number) => Array.from({ length: n }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("");
const ulid = () =>
  Array.from({ length: 26 }, () => "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[Math.floor(Math.random() * 32)]).join("");

export interface FakeFlyOptions {
  token?: string;
  /** How long a machine takes to start and to stop. */
  startMs?: number;
  stopMs?: number;
  /** Milliseconds in one of Fly's seconds (`/wait` timeouts, lease TTLs): tests shrink them. */
  secondMs?: number;
  /** Fly's limit per action per machine: requests per (fake) second, and the burst. */
  rateLimit?: { perSecond: number; burst: number };
  /** How long a new app or machine answers 404 (default 40 ms). */
  visibleMs?: number;
  /** How long an app delete takes (default 30 ms). */
  deleteMs?: number;
  /** How long a volume stays bound after its machine is destroyed (default 150 ms). */
  boundMs?: number;
  /** How long after a start the machine's checks pass (default 30 ms). */
  checksPassMs?: number;
}

export class FakeFly {
  readonly apps = new Map<string, FakeApp>();
  /** App names held by other organizations (name_taken for us). */
  readonly foreignAppNames = new Set<string>();
  readonly requests: RecordedRequest[] = [];
  /** Requests or answers that broke the Machines API contract (./fly-contract.ts). */
  readonly violations: string[] = [];
  /** Per app: the most machines that were in an update's restart at the same time. */
  readonly maxUpdatingAtOnce = new Map<string, number>();
  readonly token: string;
  startMs: number;
  stopMs: number;
  secondMs: number;
  rateLimit?: { perSecond: number; burst: number };
  private readonly faults: FaultRule[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly notBefore = new Map<string, number>();
  private server?: http.Server;
  visibleMs: number;
  deleteMs: number;
  boundMs: number;
  checksPassMs: number;
  /** Machine names whose checks stay critical. */
  readonly unhealthy = new Set<string>();
  /** Machine names whose next start ends `failed`. */
  readonly failing = new Set<string>();
  /** Every stop's body, as the client sent it. */
  readonly stops: { machine: string; body: unknown }[] = [];
  /** Each update or create: the machine, its min_secrets_version, and the other machines of its app not healthy then. */
  readonly rollouts: { app: string; machine: string; minSecretsVersion?: number; othersUnhealthy: string[] }[] = [];
  /** Volume deletes refused because the volume was still bound. */
  boundRefusals = 0;

  constructor(opts: FakeFlyOptions = {}) {
    this.token = opts.token ?? "fly-test-token";
    this.startMs = opts.startMs ?? 30;
    this.stopMs = opts.stopMs ?? 20;
    this.secondMs = opts.secondMs ?? 100;
    this.rateLimit = opts.rateLimit;
    this.visibleMs = opts.visibleMs ?? 40;
    this.deleteMs = opts.deleteMs ?? 30;
    this.boundMs = opts.boundMs ?? 150;
    this.checksPassMs = opts.checksPassMs ?? 30;
  }

  /** Starts listening; resolves to the base URL the client takes (`.../v1`). */
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    for (const a of this.apps.values()) for (const m of a.machines.values()) m.timers.forEach(clearTimeout);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  inject(rule: FaultRule): void {
    this.faults.push({ times: 1, ...rule });
  }

  calls(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  /** Everything that exists, for final-state assertions. */
  snapshot() {
    return [...this.apps.values()].map((a) => ({
      name: a.name,
      org: a.org_slug,
      secrets: [...a.secrets.keys()].sort(),
      secretsVersion: a.secretsVersion,
      volumes: [...a.volumes.values()].map((v) => ({
        id: v.id,
        name: v.name,
        region: v.region,
        size_gb: v.size_gb,
        attached_machine_id: v.attached_machine_id,
        zone: v.zone,
        compute: v.compute,
        needsRestart: !!v.needsRestart,
      })),
      machines: [...a.machines.values()].map((m) => ({
        id: m.id,
        name: m.name,
        region: m.region,
        state: m.state,
        version: m.version,
        secretsVersion: m.secretsVersion,
        leased: !!m.lease && m.lease.expiresAt > Date.now(),
        config: m.config,
      })),
    }));
  }

  /** The value of a secret, as the machines see it. */
  secretValue(app: string, name: string): string | undefined {
    return this.apps.get(app)?.secrets.get(name)?.value;
  }

  /** Destroys a machine behind Pulumi's back (refresh must notice). */
  destroyOutside(app: string, machineId: string): void {
    const a = this.apps.get(app)!;
    this.destroyMachine(a, a.machines.get(machineId)!);
  }

  // ---- HTTP -------------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname.replace(/^\/v1/, "");
    const method = req.method ?? "GET";
    const record: RecordedRequest = {
      method,
      path,
      search: url.search,
      status: 0,
      authorization: req.headers.authorization,
    };
    this.requests.push(record);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    let operation = undefined as Operation | undefined;
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      this.checkResponse(operation, status, payload, `${method} ${path}`);
      res.writeHead(status, {
        "content-type": "application/json",
        "fly-request-id": `fake-${this.requests.length}`,
        ...headers,
      });
      res.end(payload === undefined ? "" : JSON.stringify(payload));
    };
    const fail = (e: HttpError, headers: Record<string, string> = {}) =>
      send(e.status, { error: e.message, ...(e.flyStatus ? { status: e.flyStatus } : {}) }, headers);

    const token = /^(Bearer|FlyV1) (.+)$/.exec(req.headers.authorization ?? "")?.[2];
    if (token !== this.token) return fail(new HttpError(401, "unauthorized"));

    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const query = Object.fromEntries(url.searchParams.entries());
    const matched = matchOperation(method, path);
    if (!matched) return fail(new HttpError(404, `no such route ${method} /v1${path}`));
    operation = matched.operation;
    const params = matched.params;
    record.operation = operation.id;
    const why = checkRequest(operation, query, headers, body);
    if (why) {
      this.violations.push(`request ${operation.id}: ${why}`);
      return fail(new HttpError(400, `invalid request: ${why}`));
    }

    const waitedOut = this.notBefore.get(`${method} ${path}`);
    if (waitedOut !== undefined && Date.now() < waitedOut - 20) {
      this.violations.push(`request ${operation.id}: sent ${waitedOut - Date.now()} ms before its Retry-After ended`);
    }
    this.notBefore.delete(`${method} ${path}`);
    const fault = this.takeFault(method, path);
    if (fault?.kind === "drop") {
      record.status = "dropped";
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "status") {
      const extra: Record<string, string> =
        fault.retryAfterSeconds !== undefined ? { "retry-after": String(fault.retryAfterSeconds) } : {};
      if (fault.retryAfterSeconds !== undefined)
        this.notBefore.set(`${method} ${path}`, Date.now() + fault.retryAfterSeconds * 1000);
      return fail(
        new HttpError(fault.status, fault.message ?? http.STATUS_CODES[fault.status] ?? "error", fault.flyStatus),
        extra,
      );
    }
    if (fault?.kind === "slow") await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === "foreignLease") {
      const m = this.apps.get(params.app_name!)?.machines.get(params.machine_id!);
      if (m)
        m.lease = {
          nonce: hex(16),
          owner: "someone-else@example.com",
          description: "flyctl deploy",
          expiresAt: Date.now() + fault.ms,
        };
    }
    const limited = this.limit(method, operation.path, params.machine_id ?? params.app_name ?? "");
    if (limited) {
      // Not recorded for the Retry-After check: parallel requests on one route cannot tell each other's 429s.
      return fail(new HttpError(429, "rate limit exceeded"), { "retry-after": "1" });
    }

    let status = 200;
    let out: unknown;
    try {
      [status, out] = await this.route(operation.id, params, query, body as Record<string, unknown>, headers, fault);
    } catch (e) {
      if (e instanceof HttpError) return fail(e);
      throw e;
    }
    if (fault?.kind === "dropAfterCommit") {
      record.status = "dropped";
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "answerLate") await new Promise((r) => setTimeout(r, fault.ms));
    send(status, out);
  }

  private checkResponse(operation: Operation | undefined, status: number, payload: unknown, what: string) {
    const why = checkResponse(operation, status, payload);
    if (why) this.violations.push(`response ${what} ${status}: ${why}`);
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => (!f.method || f.method === method) && (!f.path || f.path.test(path)));
    if (i < 0) return undefined;
    const rule = this.faults[i]!;
    rule.times = (rule.times ?? 1) - 1;
    if (rule.times <= 0) this.faults.splice(i, 1);
    return rule.fault;
  }

  /** Fly's per-action, per-machine limit: a token bucket per (method, route, machine or app). */
  private limit(method: string, route: string, subject: string): boolean {
    if (!this.rateLimit) return false;
    const key = `${method} ${route} ${subject}`;
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: this.rateLimit.burst, at: now };
    b.tokens = Math.min(this.rateLimit.burst, b.tokens + ((now - b.at) / 1000) * this.rateLimit.perSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < 1) return true;
    b.tokens -= 1;
    return false;
  }

  // ---- operations ---------------------------------------------------------------------------------------------

  private app(name: string): FakeApp {
    const a = this.apps.get(name);
    if (!a || Date.now() < a.visibleAt) throw new HttpError(404, `app ${name} not found`);
    return a;
  }

  private machine(a: FakeApp, id: string): FakeMachine {
    const m = a.machines.get(id);
    if (!m || Date.now() < m.visibleAt) throw new HttpError(404, `machine ${id} not found`);
    return m;
  }

  private checksOf(m: FakeMachine) {
    const names = Object.keys((m.config.checks as Record<string, unknown> | undefined) ?? {});
    const passing = m.state === "started" && m.startedAt !== undefined && Date.now() - m.startedAt >= this.checksPassMs;
    return names.map((name) => {
      const ok = passing && !this.unhealthy.has(m.name);
      return {
        name,
        status: ok ? ("passing" as const) : ("critical" as const),
        output: ok ? "Success" : `dial tcp [${m.private_ip}]:6379: connect: connection refused`,
        updated_at: iso(),
      };
    });
  }

  private healthy(m: FakeMachine): boolean {
    return m.state === "started" && this.checksOf(m).every((c) => c.status === "passing");
  }

  /** A machine create or update naming a secrets version the app does not have yet is refused. */
  /**
   * The hardware zone a new volume lands on. `require_unique_zone` (default true) keeps it off hardware holding
   * another volume of that name, `unique_zone_app_wide` off hardware holding any volume of the app (Machines API
   * volumes resource; fly-go CreateVolumeRequest). Unasked, the fake puts volumes together on the region's first
   * zone, the case the flags exist to prevent. A region here has 8 zones.
   */
  private placeVolume(a: FakeApp, name: string, body: Record<string, unknown>): string {
    const zones = Array.from({ length: 8 }, (_, i) => `zone${i}`);
    if (body.require_unique_zone === false) return zones[0]!;
    const taken = new Set(
      [...a.volumes.values()].filter((v) => body.unique_zone_app_wide === true || v.name === name).map((v) => v.zone),
    );
    const free = zones.find((z) => !taken.has(z));
    if (!free) throw new HttpError(422, `no unique zone left in region ${String(body.region)} for volume ${name}`);
    return free;
  }

  private checkMinSecrets(a: FakeApp, body: Record<string, unknown>) {
    const minSecrets = body.min_secrets_version as number | undefined;
    if (minSecrets !== undefined && minSecrets > a.secretsVersion) {
      throw new HttpError(
        400,
        `min_secrets_version ${minSecrets} is newer than the app's secrets (${a.secretsVersion})`,
      );
    }
  }

  /** Machine mutations need the lease's nonce while someone holds it. */
  private checkLease(m: FakeMachine, headers: Record<string, string>) {
    if (m.lease && m.lease.expiresAt > Date.now() && headers["fly-machine-lease-nonce"] !== m.lease.nonce) {
      throw new HttpError(409, `machine ${m.id} is leased by ${m.lease.owner} (${m.lease.description})`);
    }
  }

  private machineView(m: FakeMachine) {
    return {
      id: m.id,
      name: m.name,
      state: m.state,
      region: m.region,
      config: m.config,
      instance_id: m.version,
      version: m.version,
      private_ip: m.private_ip,
      created_at: m.created_at,
      updated_at: m.updated_at,
      host_status: "ok" as const,
      ...(Object.keys((m.config.checks as object | undefined) ?? {}).length && m.state === "started"
        ? { checks: this.checksOf(m) }
        : {}),
      ...(m.lease && m.lease.expiresAt > Date.now()
        ? {
            lease: {
              owner: m.lease.owner,
              description: m.lease.description,
              expires_at: Math.floor(m.lease.expiresAt / 1000),
            },
          }
        : {}),
    };
  }

  /** fly-go MachineLease{Status, Data *MachineLeaseData}; the docs' example of the lease answer. */
  private leaseView(m: FakeMachine) {
    return {
      status: "success",
      data: {
        nonce: m.lease!.nonce,
        expires_at: Math.floor(m.lease!.expiresAt / 1000),
        owner: m.lease!.owner,
        description: m.lease!.description,
        version: m.version,
      },
    };
  }

  private volumeView(v: FakeVolume) {
    return {
      id: v.id,
      name: v.name,
      region: v.region,
      size_gb: v.size_gb,
      encrypted: v.encrypted,
      snapshot_retention: v.snapshot_retention,
      state: v.state,
      created_at: v.created_at,
      zone: v.zone,
      fstype: "ext4",
      type: "local" as const,
      host_status: "ok" as const,
      // Fly's docs example answers null for an unattached volume.
      attached_machine_id: v.attached_machine_id ?? null,
      attached_alloc_id: null,
    };
  }

  private setState(m: FakeMachine, state: State) {
    m.state = state;
    m.updated_at = iso();
  }

  /** created/stopped -> starting -> started after startMs (or a slowStart fault's ms). */
  private boot(a: FakeApp, m: FakeMachine, fault: Fault | undefined, updating: boolean) {
    m.updating = updating;
    this.setState(m, "starting");
    const updatingNow = [...a.machines.values()].filter((x) => x.updating && x.state !== "started").length;
    this.maxUpdatingAtOnce.set(a.name, Math.max(this.maxUpdatingAtOnce.get(a.name) ?? 0, updatingNow));
    const ms = fault?.kind === "slowStart" ? fault.ms : this.startMs;
    m.timers.push(
      setTimeout(() => {
        if (m.state === "starting") {
          const failed = this.failing.delete(m.name);
          this.setState(m, failed ? "failed" : "started");
          m.startedAt = Date.now();
          for (const v of a.volumes.values()) if (v.attached_machine_id === m.id) v.needsRestart = false;
        }
        m.updating = false;
      }, ms),
    );
  }

  private halt(m: FakeMachine, then?: () => void) {
    this.setState(m, "stopping");
    m.timers.push(
      setTimeout(() => {
        if (m.state === "stopping") this.setState(m, "stopped");
        then?.();
      }, this.stopMs),
    );
  }

  private attachMounts(a: FakeApp, m: FakeMachine, config: Record<string, unknown>) {
    const mounts = (config.mounts as { volume: string }[] | undefined) ?? [];
    for (const v of a.volumes.values()) if (v.attached_machine_id === m.id) delete v.attached_machine_id;
    for (const mount of mounts) {
      const v = a.volumes.get(mount.volume);
      if (!v) throw new HttpError(400, `volume ${mount.volume} not found`);
      if (v.region !== m.region)
        throw new HttpError(400, `volume ${v.id} is in ${v.region}, the machine in ${m.region}`);
      const holder = v.attached_machine_id ? a.machines.get(v.attached_machine_id) : undefined;
      if (holder && holder !== m) {
        throw new HttpError(400, `volume ${v.id} is already attached to machine ${v.attached_machine_id}`);
      }
      v.attached_machine_id = m.id;
    }
  }

  private destroyMachine(a: FakeApp, m: FakeMachine) {
    m.timers.forEach(clearTimeout);
    this.setState(m, "destroyed");
    // The volume stays bound for a while after its machine is gone (terraform-provider-fly#218, #154).
    for (const v of a.volumes.values()) {
      if (v.attached_machine_id !== m.id) continue;
      v.boundUntil = Date.now() + this.boundMs;
      v.state = "waiting_for_detach";
      const t = setTimeout(() => {
        if (v.attached_machine_id === m.id) delete v.attached_machine_id;
        if (v.state === "waiting_for_detach") v.state = "created";
      }, this.boundMs);
      t.unref();
    }
    a.machines.delete(m.id);
  }

  /** Fly fills in what the caller left out; a second `up` must not see these as changes. */
  private withDefaults(config: Record<string, unknown>): Record<string, unknown> {
    const c = structuredClone(config);
    c.restart ??= { policy: "on-failure", max_retries: 10 };
    c.init ??= {};
    c.metadata = { ...(c.metadata as object), fly_platform_version: "v2" };
    if (c.guest && typeof c.guest === "object")
      (c.guest as Record<string, unknown>).max_memory_mb ??= (c.guest as { memory_mb?: number }).memory_mb;
    for (const m of (c.mounts as Record<string, unknown>[] | undefined) ?? []) m.name ??= "data";
    // Durations echo as Go's time.Duration.String() (fly-go duration.go): "60s" -> "1m0s".
    const echo = (o: Record<string, unknown> | undefined, keys: string[]) => {
      for (const k of keys) {
        const ms = parseGoDuration(o?.[k]);
        if (o && ms !== undefined) o[k] = goDuration(ms);
      }
    };
    echo(c.stop_config as Record<string, unknown> | undefined, ["timeout"]);
    for (const check of Object.values((c.checks as Record<string, Record<string, unknown>> | undefined) ?? {}))
      echo(check, ["interval", "timeout", "grace_period"]);
    return c;
  }

  private async route(
    op: string,
    p: Record<string, string>,
    query: Record<string, string>,
    body: Record<string, unknown>,
    headers: Record<string, string>,
    fault: Fault | undefined,
  ): Promise<[number, unknown]> {
    switch (op) {
      case "Apps_create": {
        const name = String(body.name ?? "");
        if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name)) {
          throw new HttpError(
            422,
            "Validation failed: Name under 63 chars using numbers, lowercase letters and dashes",
          );
        }
        const existing = this.apps.get(name);
        // CreateAppRequest.idempotency_key: the same key and name return the app the first request made.
        if (existing && body.idempotency_key && existing.idempotencyKey === body.idempotency_key) {
          return [201, { id: existing.id, created_at: 0 }];
        }
        if (existing || this.foreignAppNames.has(name)) {
          // fly-go flaps_error.go: name_taken
          throw new HttpError(422, "Validation failed: Name has already been taken", "name_taken");
        }
        const a: FakeApp = {
          id: hex(12),
          name,
          org_slug: String(body.org_slug),
          network: body.network as string | undefined,
          idempotencyKey: body.idempotency_key as string | undefined,
          secrets: new Map(),
          secretsVersion: 0,
          machines: new Map(),
          volumes: new Map(),
          visibleAt: Date.now() + this.visibleMs,
        };
        this.apps.set(name, a);
        return [201, { id: a.id, created_at: Date.now() }];
      }
      case "Apps_show": {
        // fly-go AppNameAvailable: another organization's app answers 403.
        if (this.foreignAppNames.has(p.app_name!)) throw new HttpError(403, "unauthorized to access this app");
        const a = this.app(p.app_name!);
        return [
          200,
          {
            id: a.id,
            name: a.name,
            status: a.deleting ? "suspended" : "deployed",
            network: a.network ?? "default",
            organization: { slug: a.org_slug, name: a.org_slug },
            machine_count: a.machines.size,
            volume_count: a.volumes.size,
          },
        ];
      }
      case "Apps_delete": {
        // 202, and the app goes later; a machine still running holds it up unless `force` (docs: Delete an app).
        const a = this.app(p.app_name!);
        a.deleting = true;
        const running = [...a.machines.values()].filter((m) => m.state !== "stopped" && m.state !== "created");
        if (running.length && query.force !== "true") return [202, undefined];
        const t = setTimeout(() => {
          for (const m of [...a.machines.values()]) this.destroyMachine(a, m);
          this.apps.delete(a.name);
        }, this.deleteMs);
        t.unref();
        return [202, undefined];
      }
      case "Machines_list": {
        const a = this.app(p.app_name!);
        return [200, [...a.machines.values()].map((m) => this.machineView(m))];
      }
      case "Machines_create": {
        const a = this.app(p.app_name!);
        const name = String(body.name ?? `machine-${hex(4)}`);
        this.checkMinSecrets(a, body);
        const config = this.withDefaults(body.config as Record<string, unknown>);
        if (!config.image) throw new HttpError(400, "config.image is required");
        const m: FakeMachine = {
          id: hex(14),
          name,
          region: String(body.region ?? "iad"),
          config,
          state: "created",
          version: ulid(),
          private_ip: `fdaa:0:1:a7b:${hex(4)}:${hex(4)}:${hex(4)}:2`,
          created_at: iso(),
          updated_at: iso(),
          secretsVersion: a.secretsVersion,
          minSecretsVersion: body.min_secrets_version as number | undefined,
          visibleAt: Date.now() + this.visibleMs,
          timers: [],
          updating: false,
        };
        this.rollouts.push({
          app: a.name,
          machine: name,
          minSecretsVersion: m.minSecretsVersion,
          othersUnhealthy: [...a.machines.values()].filter((x) => !this.healthy(x)).map((x) => x.name),
        });
        this.attachMounts(a, m, config);
        a.machines.set(m.id, m);
        const view = this.machineView(m);
        if (!body.skip_launch) this.boot(a, m, fault, false);
        return [200, view];
      }
      case "Machines_show": {
        const a = this.app(p.app_name!);
        return [200, this.machineView(this.machine(a, p.machine_id!))];
      }
      case "Machines_update": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        this.checkLease(m, headers);
        if (body.current_version && body.current_version !== m.version)
          throw new HttpError(409, "machine version changed");
        this.checkMinSecrets(a, body);
        const config = this.withDefaults(body.config as Record<string, unknown>);
        const volumes = (c: Record<string, unknown>) =>
          JSON.stringify(((c.mounts as { volume: string }[] | undefined) ?? []).map((x) => x.volume));
        if (volumes(config) !== volumes(m.config)) {
          // Fly docs (Machines resource): the volume a machine is attached to cannot change by an update.
          throw new HttpError(
            400,
            "cannot change the volume a machine is attached to; destroy it and create a new one",
          );
        }
        this.rollouts.push({
          app: a.name,
          machine: m.name,
          minSecretsVersion: body.min_secrets_version as number | undefined,
          othersUnhealthy: [...a.machines.values()].filter((x) => x !== m && !this.healthy(x)).map((x) => x.name),
        });
        this.attachMounts(a, m, config);
        m.config = config;
        m.version = ulid();
        m.secretsVersion = a.secretsVersion;
        m.minSecretsVersion = body.min_secrets_version as number | undefined;
        if (body.region && body.region !== m.region) throw new HttpError(400, "a machine cannot change region");
        m.timers.forEach(clearTimeout);
        m.timers = [];
        // The update restarts the machine: stopping -> stopped -> starting -> started.
        m.updating = true;
        this.halt(m, () => this.boot(a, m, fault, true));
        return [200, this.machineView(m)];
      }
      case "Machines_delete": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        this.checkLease(m, headers);
        if (!["stopped", "created"].includes(m.state) && query.force !== "true" && query.kill !== "true") {
          throw new HttpError(412, `failed_precondition: machine ${m.id} is ${m.state}; stop it first or use force`);
        }
        this.destroyMachine(a, m);
        return [200, undefined];
      }
      case "Machines_create_lease": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        const held = m.lease && m.lease.expiresAt > Date.now();
        if (held && headers["fly-machine-lease-nonce"] !== m.lease!.nonce) {
          throw new HttpError(
            409,
            `lease currently held by ${m.lease!.owner}, expires at ${Math.floor(m.lease!.expiresAt / 1000)}`,
          );
        }
        // fly-go AcquireLease sends `?ttl=`; the docs' example sends `ttl` in the body. With our nonce: a refresh.
        const ttl = Number(query.ttl ?? body?.ttl ?? 30);
        m.lease = {
          nonce: held ? m.lease!.nonce : hex(16),
          owner: "deployer@example.com",
          description: String(body?.description ?? ""),
          expiresAt: Date.now() + ttl * this.secondMs,
        };
        return [200, this.leaseView(m)];
      }
      case "Machines_show_lease": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        if (!m.lease || m.lease.expiresAt <= Date.now()) throw new HttpError(404, "lease not found");
        return [200, this.leaseView(m)];
      }
      case "Machines_release_lease": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        if (m.lease && headers["fly-machine-lease-nonce"] !== m.lease.nonce)
          throw new HttpError(409, "lease nonce mismatch");
        delete m.lease;
        // The docs' example answer.
        return [200, { status: "success", data: { ok: true } }];
      }
      case "Machines_start": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        this.checkLease(m, headers);
        if (m.state === "stopped" || m.state === "created") this.boot(a, m, fault, false);
        return [200, undefined];
      }
      case "Machines_stop": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        this.checkLease(m, headers);
        this.stops.push({ machine: m.name, body });
        const timeout = (body as { timeout?: unknown } | undefined)?.timeout;
        if (timeout !== undefined && parseGoDuration(timeout) === undefined)
          throw new HttpError(400, `invalid stop timeout ${JSON.stringify(timeout)}: time: invalid duration`);
        if (m.state === "started" || m.state === "starting") {
          m.timers.forEach(clearTimeout);
          m.timers = [];
          this.halt(m);
        }
        return [200, undefined];
      }
      case "Machines_wait": {
        const a = this.app(p.app_name!);
        const m = this.machine(a, p.machine_id!);
        const want = query.state ?? "started";
        const version = query.version ?? query.instance_id;
        // Fly docs (Machines resource: wait): instance_id is required when waiting for `stopped`.
        if (want === "stopped" && !version) throw new HttpError(400, "instance_id is required to wait for stopped");
        const timeout = Math.min(Number(query.timeout ?? 60), 60);
        const deadline = Date.now() + timeout * this.secondMs;
        for (;;) {
          const at = want === "settled" ? SETTLED.includes(m.state) : m.state === want;
          const reached = want === "destroyed" ? !a.machines.has(m.id) : at && (!version || m.version === version);
          if (reached) return [200, { ok: true, state: m.state, version: m.version }];
          if (Date.now() >= deadline) {
            throw new HttpError(
              408,
              `deadline_exceeded: machine ${m.id} is ${m.state}, not ${want}${version ? ` at version ${version}` : ""}`,
            );
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      case "Secrets_list": {
        const a = this.app(p.app_name!);
        return [
          200,
          {
            secrets: [...a.secrets.entries()].map(([name, s]) => ({
              name,
              digest: hex(16),
              created_at: s.created_at,
              updated_at: s.updated_at,
            })),
          },
        ];
      }
      case "Secrets_update": {
        const a = this.app(p.app_name!);
        const values = (body.values ?? {}) as Record<string, string>;
        for (const [name, value] of Object.entries(values)) {
          const prev = a.secrets.get(name);
          a.secrets.set(name, { value, created_at: prev?.created_at ?? iso(), updated_at: iso() });
        }
        a.secretsVersion++;
        return [200, { version: a.secretsVersion, secrets: [...a.secrets.keys()].map((name) => ({ name })) }];
      }
      case "Secret_delete": {
        const a = this.app(p.app_name!);
        if (!a.secrets.delete(p.secret_name!)) throw new HttpError(404, `secret ${p.secret_name} not found`);
        a.secretsVersion++;
        return [200, { version: a.secretsVersion }];
      }
      case "Volumes_list": {
        const a = this.app(p.app_name!);
        return [200, [...a.volumes.values()].map((v) => this.volumeView(v))];
      }
      case "Volumes_create": {
        const a = this.app(p.app_name!);
        const name = String(body.name ?? "");
        if (!/^[a-z0-9_]{1,30}$/.test(name))
          throw new HttpError(400, "volume name must be lowercase letters, numbers and underscores, at most 30");
        const v: FakeVolume = {
          id: `vol_${hex(16)}`,
          name,
          region: String(body.region),
          size_gb: Number(body.size_gb ?? 1),
          encrypted: body.encrypted !== false,
          snapshot_retention: Number(body.snapshot_retention ?? 5),
          state: "created",
          created_at: iso(),
          zone: this.placeVolume(a, name, body),
          compute: body.compute,
        };
        a.volumes.set(v.id, v);
        return [200, this.volumeView(v)];
      }
      case "Volumes_get_by_id": {
        const a = this.app(p.app_name!);
        const v = a.volumes.get(p.volume_id!);
        if (!v) throw new HttpError(404, `volume ${p.volume_id} not found`);
        return [200, this.volumeView(v)];
      }
      case "Volumes_update": {
        const a = this.app(p.app_name!);
        const v = a.volumes.get(p.volume_id!);
        if (!v) throw new HttpError(404, `volume ${p.volume_id} not found`);
        if (body.snapshot_retention !== undefined) v.snapshot_retention = Number(body.snapshot_retention);
        return [200, this.volumeView(v)];
      }
      case "Volumes_extend": {
        const a = this.app(p.app_name!);
        const v = a.volumes.get(p.volume_id!);
        if (!v) throw new HttpError(404, `volume ${p.volume_id} not found`);
        const size = Number(body.size_gb);
        if (!(size > v.size_gb)) throw new HttpError(400, `size_gb ${size} must be larger than ${v.size_gb}`);
        v.size_gb = size;
        // The file system grows at the machine's next start (docs: Extend a volume, needs_restart).
        const m = v.attached_machine_id ? a.machines.get(v.attached_machine_id) : undefined;
        v.needsRestart = m?.state === "started";
        return [200, { volume: this.volumeView(v), needs_restart: v.needsRestart }];
      }
      case "Volume_delete": {
        const a = this.app(p.app_name!);
        const v = a.volumes.get(p.volume_id!);
        if (!v) throw new HttpError(404, `volume ${p.volume_id} not found`);
        if (v.attached_machine_id) {
          if (v.boundUntil) this.boundRefusals++;
          throw new HttpError(
            412,
            `failed_precondition: volume is currently bound to machine: ${v.attached_machine_id}`,
          );
        }
        a.volumes.delete(v.id);
        return [200, { ...this.volumeView(v), state: "pending_destroy" }];
      }
      default:
        throw new HttpError(501, `the fake does not implement ${op}`);
    }
  }
}
