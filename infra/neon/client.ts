/**
 * The careful Neon API client every Neon dynamic provider goes through, over `@neondatabase/api-client`:
 * - every write waits for the operations it returned to reach a final state before the next write;
 * - writes to one project are serialized in-process (Pulumi creates resources in parallel; Neon answers 423 while a
 *   project has running operations);
 * - 423, 429 and 503 (never applied, per Neon's API reference) are retried with backoff; so are GETs after a dropped
 *   connection, a timeout or another 5xx; all retries stop at a bounded total time;
 * - a create whose outcome is unknown (timeout, dropped connection, 5xx) is reconciled by looking the resource up
 *   by name before trying again, and a create whose operations fail is rolled back, so nothing leaks or doubles;
 * - errors carry Neon's message and request id, and never the API key (axios errors embed request headers, so they
 *   are converted, never rethrown).
 *
 * This file runs inside Pulumi's dynamic provider process (serialized with the providers): it uses only globals and
 * packages from node_modules. Retry, backoff and the per-project queue are written here by hand: no retry or mutex
 * library is installed, and the look-up-by-name step has to sit inside the retry loop.
 */
import { createApiClient, type Api, type Operation, type RequestParams } from "@neondatabase/api-client";

export const NEON_API_URL = "https://console.neon.tech/api/v2";
/** Stack config key holding the API key (`pulumi config set --secret mauntic-infra:neonApiKey ...`). */
export const NEON_API_KEY_CONFIG = "mauntic-infra:neonApiKey";

export interface NeonClientOptions {
  apiKey: string;
  baseUrl?: string;
  /** One HTTP request; a slower answer counts as a timeout (outcome unknown). */
  requestTimeoutMs?: number;
  /** Total time one call may spend retrying 423/429/5xx/dropped connections before giving up. */
  retryBudgetMs?: number;
  /** Total time to wait for a write's operations to finish. */
  operationTimeoutMs?: number;
  /** First operation poll delay; it grows by half each poll up to 5 s. */
  pollIntervalMs?: number;
  /** Backoff between retries: base * 2^(attempt-1), capped, with jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

const DEFAULTS = {
  baseUrl: NEON_API_URL,
  requestTimeoutMs: 30_000,
  retryBudgetMs: 5 * 60_000,
  operationTimeoutMs: 15 * 60_000,
  pollIntervalMs: 1_000,
  backoffBaseMs: 500,
  backoffMaxMs: 15_000,
};

type Settings = typeof DEFAULTS;

/**
 * Operation statuses that will not change any more. `error` is not among them: Neon retries such operations.
 * (Plain functions, no Set: module-level objects are copied field by field into the serialized provider.)
 */
const isDone = (status: string) => status === "finished" || status === "skipped";
const isFailed = (status: string) => status === "failed" || status === "cancelled";

/*
 * Errors are plain Errors with fields, built by functions: Pulumi's closure serializer rewrites classes into
 * functions, which drops an Error subclass's message and breaks private fields.
 */

/** A Neon API call that failed: what we tried, Neon's status, code, message and request id. */
export interface NeonApiError extends Error {
  name: "NeonApiError";
  what: string;
  /** HTTP status; undefined when no response arrived (timeout, dropped connection). */
  status: number | undefined;
  code: string;
  neonMessage: string;
  requestId: string;
  /** Seconds from a Retry-After header (429). */
  retryAfterSeconds?: number;
  attempts: number;
  /** An answer that was complete but not final (a list with unavailable projects): worth another try. */
  retryable?: boolean;
}

export function neonApiError(
  f: Omit<NeonApiError, "name" | "message" | "attempts"> & { attempts?: number },
): NeonApiError {
  const attempts = f.attempts ?? 1;
  const message = `Neon API: ${f.what} failed: ${f.status === undefined ? "no response" : `HTTP ${f.status}`}${f.code ? ` ${f.code}` : ""}: ${f.neonMessage} (request id ${f.requestId}${attempts > 1 ? `, after ${attempts} attempts` : ""})`;
  return Object.assign(new Error(message), {
    name: "NeonApiError" as const,
    what: f.what,
    status: f.status,
    code: f.code,
    neonMessage: f.neonMessage,
    requestId: f.requestId,
    retryAfterSeconds: f.retryAfterSeconds,
    attempts,
    ...(f.retryable ? { retryable: true } : {}),
  });
}

/**
 * A project list that names projects in `unavailable_project_ids` ("known to exist, but whose details could not be
 * fetched within the time limit", ProjectsResponse in Neon's OpenAPI document) may hide the very project looked for:
 * retried as transient, never read as "absent".
 */
export function unavailableProjectsError(what: string, ids: readonly string[]): NeonApiError {
  return neonApiError({
    what,
    status: 200,
    code: "unavailable_project_ids",
    neonMessage: `Neon could not fetch projects ${ids.join(", ")} in time`,
    requestId: "n/a",
    retryable: true,
  });
}

export function isNeonApiError(e: unknown): e is NeonApiError {
  return e instanceof Error && e.name === "NeonApiError";
}

/** The request was certainly not applied (Neon: "safe to retry" for any method). */
export const notApplied = (e: NeonApiError) => e.status === 423 || e.status === 429 || e.status === 503;
/** The request may or may not have been applied: retry a GET; reconcile a create by name. */
export const outcomeUnknown = (e: NeonApiError) =>
  e.status === undefined || e.status === 500 || e.status === 502 || e.status === 504;
/** Either of the above: worth another try (a create looks itself up by name first). */
const transient = (e: NeonApiError) => notApplied(e) || outcomeUnknown(e) || e.retryable === true;
const notFound = (e: unknown) => isNeonApiError(e) && e.status === 404;

/** An operation Neon ran for a write ended badly, or did not end in time. */
export function neonOperationError(
  what: string,
  op: Pick<Operation, "id" | "action" | "status" | "error">,
  detail: string,
): Error & { operation: typeof op } {
  return Object.assign(new Error(`Neon API: ${what}: operation ${op.action} (${op.id}) ${detail}`), {
    name: "NeonOperationError",
    operation: { id: op.id, action: op.action, status: op.status, error: op.error },
  });
}

/**
 * Neon answers 400 about `org_id` to project lists and creates made with a personal API key ("If using a personal
 * API key, include the org_id parameter", listProjects/createProject in Neon's OpenAPI document).
 */
export const ORG_ID_HINT =
  "this API key is a personal API key, which must name the organization: set `neon.orgId` (org-...) in the stack config, or use an organization API key";

/** No API key anywhere it may come from. */
export function credentialsError(): Error {
  return Object.assign(
    new Error(
      `no Neon API key: set NEON_API_KEY, or run \`pulumi config set --secret ${NEON_API_KEY_CONFIG} <key>\` (allowed: either one)`,
    ),
    { name: "NeonCredentialsError" },
  );
}

/** The fields of an axios error we read (axios itself is the API client's dependency, not ours). */
interface HttpFailure {
  isAxiosError?: boolean;
  code?: string;
  message?: string;
  response?: { status: number; data?: unknown; headers?: Record<string, unknown> };
}

function toNeonError(e: unknown, what: string, requestId: string): NeonApiError {
  const err = e as HttpFailure;
  if (!err || err.isAxiosError !== true) {
    const neonMessage = e instanceof Error ? e.message : String(e);
    return neonApiError({ what, status: undefined, code: "", neonMessage, requestId });
  }
  if (!err.response) {
    const reason = err.code === "ECONNABORTED" || err.code === "ETIMEDOUT" ? "timed out" : "connection dropped";
    const neonMessage = `${reason} (${err.code ?? "network error"})`;
    return neonApiError({ what, status: undefined, code: err.code ?? "", neonMessage, requestId });
  }
  const body = (err.response.data ?? {}) as { message?: unknown; code?: unknown; request_id?: unknown };
  const retryAfter = Number(err.response.headers?.["retry-after"] ?? Number.NaN);
  const message = typeof body.message === "string" && body.message ? body.message : "no message";
  return neonApiError({
    what,
    status: err.response.status,
    code: typeof body.code === "string" ? body.code : "",
    neonMessage: err.response.status === 400 && /\borg_id\b/.test(message) ? `${message}: ${ORG_ID_HINT}` : message,
    requestId: typeof body.request_id === "string" && body.request_id ? body.request_id : requestId,
    retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
  });
}

/** The operations a write answered with (responses without any, e.g. a project delete, have none). */
const operationsOf = (res: object): Operation[] => (res as { operations?: Operation[] }).operations ?? [];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One queue of writes per Neon project, shared by every provider in the process (each resource type's provider is
 * deserialized separately, so module state would not be shared; globalThis is).
 */
function projectQueues(): Map<string, Promise<void>> {
  const g = globalThis as { [k: symbol]: Map<string, Promise<void>> | undefined };
  const key = Symbol.for("mauntic-infra.neon.projectQueues");
  return (g[key] ??= new Map());
}

/** A create that found its resource already there (a timed-out earlier try, or a default Neon made). */
export interface Adopted<T> {
  adopted: true;
  value: T;
}
export interface Created<R> {
  adopted: false;
  response: R;
}

export interface CreateSpec<T, R extends object> {
  /** e.g. `create role mauntic_dev_crm`. */
  what: string;
  /** The project the write goes to; undefined only when creating a project. */
  projectId?: string;
  /** Looks the resource up by its name (a GET). */
  find: () => Promise<T | undefined>;
  create: (params: RequestParams) => Promise<{ data: R }>;
  /** The project id of a created or found resource, when `projectId` is undefined (project creates). */
  projectOf?: (created: R | undefined, found: T | undefined) => string;
  /** Rolls back a created resource whose operations failed, so nothing leaks. */
  remove: (response: R) => Promise<void>;
}

type Call<R> = (params: RequestParams) => Promise<{ data: R }>;

export interface NeonClient {
  /** The generated client; call it only through the methods below (not enumerable: it holds the key). */
  readonly api: Api<unknown>;
  /** A GET: any transient failure is retried. */
  read<R>(what: string, fn: Call<R>): Promise<R>;
  /** A GET that answers undefined for 404. */
  readOptional<R>(what: string, fn: Call<R>): Promise<R | undefined>;
  /**
   * A write whose effect is the same when repeated (PATCH with absolute values, DELETE, password reset): retried
   * on any transient failure, then its operations are awaited. After an unknown outcome the project's running
   * operations are awaited too, since we never saw the ones our write started. `gone: true` turns 404 into
   * undefined (a delete that already happened).
   */
  write<R extends object>(
    projectId: string,
    what: string,
    fn: Call<R>,
    opts?: { gone?: boolean },
  ): Promise<R | undefined>;
  /**
   * A create that never doubles: looks the resource up by name first (a previous try may have succeeded without
   * us hearing back, or Neon made it as a default), creates only when absent, and after an unknown outcome looks
   * again before retrying. When the create's operations fail, the created resource is removed before the error is
   * thrown.
   */
  createOrAdopt<T, R extends object>(spec: CreateSpec<T, R>): Promise<Adopted<T> | Created<R>>;
  /** Waits until each operation is finished or skipped; a failed or cancelled one throws with Neon's reason. */
  waitForOperations(projectId: string, operations: readonly Operation[], what: string): Promise<void>;
  /** Waits for every operation the project is still running (those of a write whose answer we never got). */
  waitForProjectIdle(projectId: string, what: string): Promise<void>;
  /** Runs a sequence of reads again while it fails in a transient way (e.g. a list with unavailable projects). */
  retrying<T>(fn: () => Promise<T>): Promise<T>;
}

export function createNeonClient(options: NeonClientOptions): NeonClient {
  if (!options.apiKey) throw credentialsError();
  const { apiKey, ...rest } = options;
  const settings: Settings = {
    ...DEFAULTS,
    ...(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<Settings>),
  };
  const api = createApiClient({ apiKey, baseURL: settings.baseUrl, timeout: settings.requestTimeoutMs });

  /** One HTTP request, with our own request id so even a dropped connection can be traced. */
  async function once<R>(what: string, fn: Call<R>): Promise<R> {
    const requestId = globalThis.crypto.randomUUID();
    try {
      const res = await fn({ headers: { "X-Request-ID": requestId }, timeout: settings.requestTimeoutMs });
      return res.data;
    } catch (e) {
      throw toNeonError(e, what, requestId);
    }
  }

  function backoff(attempt: number, err: NeonApiError): number {
    if (err.retryAfterSeconds !== undefined) return Math.max(err.retryAfterSeconds * 1000, settings.backoffBaseMs);
    const cap = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** (attempt - 1));
    return cap / 2 + Math.random() * (cap / 2);
  }

  /** Runs `fn` until it succeeds, retrying what `retryable` accepts with backoff while the retry budget lasts. */
  async function retry<R>(retryable: (e: NeonApiError) => boolean, fn: (attempt: number) => Promise<R>): Promise<R> {
    const deadline = Date.now() + settings.retryBudgetMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (e) {
        if (!isNeonApiError(e)) throw e;
        if (!retryable(e)) throw neonApiError({ ...e, attempts: attempt });
        const wait = backoff(attempt, e);
        if (Date.now() + wait > deadline) throw neonApiError({ ...e, attempts: attempt });
        await sleep(wait);
      }
    }
  }

  /** Serializes writes to one project, including the wait for their operations. */
  async function inProjectQueue<T>(projectId: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (projectId === undefined) return fn();
    const queues = projectQueues();
    const before = queues.get(projectId) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    queues.set(projectId, mine);
    await before;
    try {
      return await fn();
    } finally {
      done();
      if (queues.get(projectId) === mine) queues.delete(projectId);
    }
  }

  const client: NeonClient = {
    api,
    read: (what, fn) => retry(transient, () => once(what, fn)),
    retrying: (fn) => retry(transient, fn),

    async readOptional(what, fn) {
      try {
        return await client.read(what, fn);
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },

    write(projectId, what, fn, opts = {}) {
      return inProjectQueue(projectId, async () => {
        let unsure = false;
        let res;
        try {
          res = await retry(
            (e) => {
              unsure ||= outcomeUnknown(e);
              return transient(e);
            },
            () => once(what, fn),
          );
        } catch (e) {
          if (!(opts.gone && notFound(e))) throw e;
        }
        if (res) await client.waitForOperations(projectId, operationsOf(res), what);
        if (unsure || !res) await client.waitForProjectIdle(projectId, what);
        return res;
      });
    },

    async createOrAdopt<T, R extends object>(spec: CreateSpec<T, R>) {
      let failed: { error: unknown; created: R } | undefined;
      const result = await inProjectQueue(spec.projectId, async (): Promise<Adopted<T> | Created<R> | undefined> => {
        const outcome = await retry(transient, async (attempt): Promise<Adopted<T> | Created<R>> => {
          // The first look-up also adopts what an interrupted earlier run created.
          const existing = await spec.find();
          if (existing !== undefined) return { adopted: true, value: existing };
          const what = attempt > 1 ? `${spec.what} (attempt ${attempt})` : spec.what;
          return { adopted: false, response: await once(what, spec.create) };
        });
        if (outcome.adopted) {
          const projectId = spec.projectId ?? spec.projectOf?.(undefined, outcome.value);
          if (projectId) await client.waitForProjectIdle(projectId, spec.what);
          return outcome;
        }
        const projectId = spec.projectId ?? spec.projectOf?.(outcome.response, undefined);
        try {
          if (projectId) await client.waitForOperations(projectId, operationsOf(outcome.response), spec.what);
        } catch (error) {
          failed = { error, created: outcome.response };
          return undefined;
        }
        return outcome;
      });
      if (result) return result;
      // Rolled back outside the project's queue: the removal is a write of its own and queues behind nothing.
      try {
        await spec.remove(failed!.created);
      } catch (rollback) {
        throw new Error(
          `${(failed!.error as Error).message}; rolling back the half-created resource failed too: ${(rollback as Error).message}`,
        );
      }
      throw failed!.error;
    },

    async waitForOperations(projectId, operations, what) {
      const deadline = Date.now() + settings.operationTimeoutMs;
      for (const first of operations) {
        let op: Pick<Operation, "id" | "action" | "status" | "error"> = first;
        let delay = settings.pollIntervalMs;
        while (!isDone(op.status)) {
          if (isFailed(op.status)) {
            throw neonOperationError(what, op, `${op.status}: ${op.error || "Neon gave no reason"}`);
          }
          if (Date.now() + delay > deadline) {
            const limit = Math.round(settings.operationTimeoutMs / 1000);
            throw neonOperationError(
              what,
              op,
              `still ${op.status} after ${limit} s (allowed: finished within ${limit} s)`,
            );
          }
          await sleep(delay);
          delay = Math.min(delay * 1.5, 5_000);
          const current = await client.readOptional(`read operation ${op.id}`, (p) =>
            api.getProjectOperation(projectId, op.id, p),
          );
          // A project deleted under a running operation has no operations left to wait for.
          if (!current) return;
          op = current.operation;
        }
      }
    },

    async waitForProjectIdle(projectId, what) {
      const listed = await client.readOptional(`list operations of project ${projectId}`, (p) =>
        api.listProjectOperations({ projectId, limit: 100 }, p),
      );
      const running = (listed?.operations ?? []).filter((o) => !isDone(o.status) && !isFailed(o.status));
      await client.waitForOperations(projectId, running, what);
    },
  };
  // The generated client holds the key in its request defaults: keep it out of logs and JSON.
  Object.defineProperty(client, "api", { value: api, enumerable: false });
  Object.defineProperty(client, "toJSON", { value: () => `NeonClient(${settings.baseUrl})`, enumerable: false });
  return client;
}

/** Overrides for tests and rehearsals against a local fake; production uses the defaults and the environment. */
export function configureNeonClient(options: Partial<NeonClientOptions> | undefined): void {
  const g = globalThis as { [k: symbol]: Partial<NeonClientOptions> | undefined };
  g[Symbol.for("mauntic-infra.neon.clientOptions")] = options;
}

/** The API key from the dynamic provider's `configure` (stack config), kept in process memory only. */
export function setConfiguredApiKey(key: string | undefined): void {
  const g = globalThis as { [k: symbol]: string | undefined };
  g[Symbol.for("mauntic-infra.neon.configuredApiKey")] = key;
}

/**
 * The client the providers use: overrides, then the secret stack config key, then NEON_API_KEY; the API URL
 * from NEON_API_URL (a local fake) or Neon's.
 */
export function neonClient(): NeonClient {
  const g = globalThis as { [k: symbol]: unknown };
  const overrides = (g[Symbol.for("mauntic-infra.neon.clientOptions")] ?? {}) as Partial<NeonClientOptions>;
  const configured = g[Symbol.for("mauntic-infra.neon.configuredApiKey")] as string | undefined;
  const apiKey = overrides.apiKey || configured || process.env.NEON_API_KEY;
  if (!apiKey) throw credentialsError();
  return createNeonClient({ ...overrides, apiKey, baseUrl: overrides.baseUrl ?? process.env.NEON_API_URL });
}
