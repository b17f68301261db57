/**
 * The careful Fly Machines API client (`https://api.machines.dev/v1`) every Fly dynamic provider goes through:
 * - requests are paced client-side per action and machine (Fly's documented limit: about 1 request/s per action
 *   per machine, bursts of 3; https://fly.io/docs/machines/api/working-with-machines-api/#rate-limits) so a rolling update does not earn 429s;
 * - 429 (with Retry-After when Fly sends one), 5xx and dropped connections are retried with backoff, and so are 409
 *   lease conflicts where the caller says a lease may be held; every retry loop stops at a bounded total time;
 * - Fly's error bodies (`{error, status}`, status one of unknown / insufficient_capacity /
 *   volume_placement_capacity / name_taken in the Machines OpenAPI `main.statusCode`; a lease answer carries
 *   `message` and `code` instead, fly-go `MachineLease{Status, Data, Message, Code}`) become errors in words that
 *   keep Fly's own message;
 * - the token is sent as fly-go's AuthorizationHeader does (`FlyV1` for macaroon tokens `fm1r_`/`fm2_`, else
 *   `Bearer`) and never appears in an error, a log line or JSON.
 *
 * Runs inside Pulumi's dynamic provider process (serialized with the providers): only globals (fetch, crypto,
 * AbortSignal) and no imports. Retry, pacing and backoff are written here by hand: no retry or rate-limit library
 * is installed, and the look-up-by-name reconciliation has to sit inside the retry loop.
 */

export const FLY_API_URL = "https://api.machines.dev/v1";
/** Stack config key holding the token (`pulumi config set --secret mauntic-infra:flyApiToken ...`). */
export const FLY_API_TOKEN_CONFIG = "mauntic-infra:flyApiToken";
/** Header carrying a machine lease's nonce (fly-go flaps.NonceHeader). */
export const LEASE_NONCE_HEADER = "fly-machine-lease-nonce";
/** `/wait` blocks at most 60 s (Machines OpenAPI, Machines_wait). */
export const MAX_WAIT_SECONDS = 60;

export interface FlyClientOptions {
  token: string;
  baseUrl?: string;
  /** One HTTP request; a slower answer counts as a dropped one (outcome unknown). `/wait` adds its own timeout. */
  requestTimeoutMs?: number;
  /** Total time one call may spend retrying 409/429/5xx/dropped connections. */
  retryBudgetMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Client-side pacing per action and machine. */
  ratePerSecond?: number;
  burst?: number;
  /** Longest a machine may take to reach a state (a slow start), over as many `/wait` calls as it takes. */
  stateTimeoutMs?: number;
  /** Seconds per `/wait` call (at most 60). */
  waitSeconds?: number;
  /** Longest a machine's health checks may take to all pass after it started (flyctl waits for them too). */
  healthTimeoutMs?: number;
  /** Poll interval while waiting for checks, for a just-created app or machine to be visible, or a lease to end. */
  pollMs?: number;
  /** Longest we wait for a lease someone else holds before failing with its owner's name. */
  leaseWaitMs?: number;
  /** How often a held lease is refreshed (flyctl refreshes its leases in the background). */
  leaseRefreshMs?: number;
  /** Longest a new app or machine may stay invisible (404) after its create (fly-go WaitForApp retries 404/401). */
  visibilityTimeoutMs?: number;
}

const DEFAULTS = {
  baseUrl: FLY_API_URL,
  requestTimeoutMs: 30_000,
  retryBudgetMs: 3 * 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 10_000,
  // A little under Fly's 1/s, so network jitter between two paced requests does not earn a 429.
  ratePerSecond: 0.9,
  burst: 3,
  stateTimeoutMs: 10 * 60_000,
  waitSeconds: MAX_WAIT_SECONDS,
  healthTimeoutMs: 5 * 60_000,
  pollMs: 1_000,
  leaseWaitMs: 10 * 60_000,
  leaseRefreshMs: 30_000,
  visibilityTimeoutMs: 60_000,
};
type Settings = typeof DEFAULTS;

/*
 * Errors are plain Errors with fields, built by functions: Pulumi's closure serializer rewrites classes into
 * functions, which drops an Error subclass's message.
 */

/** A Machines API call that failed: what we tried, the HTTP status, Fly's status word and message. */
export interface FlyApiError extends Error {
  name: "FlyApiError";
  what: string;
  /** HTTP status; undefined when no response arrived (timeout, dropped connection). */
  status: number | undefined;
  /** Fly's `status` field (insufficient_capacity, name_taken, ...), or "". */
  flyStatus: string;
  flyMessage: string;
  requestId: string;
  retryAfterSeconds?: number;
  attempts: number;
}

/** What each of Fly's status words means for the person running `pulumi up`. */
const ADVICE: Record<string, string> = {
  insufficient_capacity:
    "Fly has no capacity for this machine size in the region right now (allowed: retry later, or pick another region or size)",
  volume_placement_capacity:
    "Fly cannot place a volume of this size in the region right now (allowed: retry later, or pick another region)",
  name_taken:
    "the name is taken; Fly app names are one global namespace, so another organization may hold it (allowed: a name no one holds)",
};

export function flyApiError(
  f: Omit<FlyApiError, "name" | "message" | "attempts"> & { attempts?: number },
): FlyApiError {
  const attempts = f.attempts ?? 1;
  const advice = ADVICE[f.flyStatus];
  const message =
    `Fly Machines API: ${f.what} failed: ${f.status === undefined ? "no response" : `HTTP ${f.status}`}` +
    `${f.flyStatus && f.flyStatus !== "unknown" ? ` ${f.flyStatus}` : ""}: ${f.flyMessage}` +
    `${advice ? `: ${advice}` : ""} (request id ${f.requestId || "none"}${attempts > 1 ? `, after ${attempts} attempts` : ""})`;
  return Object.assign(new Error(message), {
    name: "FlyApiError" as const,
    what: f.what,
    status: f.status,
    flyStatus: f.flyStatus,
    flyMessage: f.flyMessage,
    requestId: f.requestId,
    retryAfterSeconds: f.retryAfterSeconds,
    attempts,
  });
}

export function isFlyApiError(e: unknown): e is FlyApiError {
  return e instanceof Error && e.name === "FlyApiError";
}

export const isNotFound = (e: unknown) => isFlyApiError(e) && e.status === 404;
/** Certainly not applied: Fly refused before acting (rate limit, lease held). */
const notApplied = (e: FlyApiError) => e.status === 429 || e.status === 409;
/**
 * Fly's answers in words: not applied, and another try will not help now. insufficient_capacity comes as a 503
 * (fly-go flaps_error_test), so it must not count as a hiccup.
 */
export const isRefusal = (e: FlyApiError) =>
  ["insufficient_capacity", "volume_placement_capacity", "name_taken"].includes(e.flyStatus);
/**
 * May or may not have been applied. 408 is flaps' own deadline talking to flyd: transient, but ambiguous for a
 * create (flyctl internal/flapsutil/retry.go IsTransientFlapsError), so creates look themselves up by name first.
 */
export const outcomeUnknown = (e: FlyApiError) =>
  !isRefusal(e) && (e.status === undefined || e.status === 408 || e.status >= 500);

export function credentialsError(): Error {
  return Object.assign(
    new Error(
      `no Fly API token: set FLY_API_TOKEN, or run \`pulumi config set --secret ${FLY_API_TOKEN_CONFIG} <token>\` (allowed: either one)`,
    ),
    { name: "FlyCredentialsError" },
  );
}

/** fly-go's AuthorizationHeader: macaroon tokens (`fm1r_`, `fm2_`, possibly comma-joined) take the FlyV1 scheme. */
export function authorizationHeader(token: string): string {
  const t = token.trim();
  if (/^(FlyV1|Bearer) /i.test(t)) return t;
  const macaroon = t.split(",").some((tok) => ["fm1r", "fm2"].includes(tok.trim().split("_")[0]!));
  return `${macaroon ? "FlyV1" : "Bearer"} ${t}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Token buckets shared by every provider in the process (each provider is deserialized on its own). */
function buckets(): Map<string, { tokens: number; at: number }> {
  const g = globalThis as { [k: symbol]: Map<string, { tokens: number; at: number }> | undefined };
  return (g[Symbol.for("mauntic-infra.fly.buckets")] ??= new Map());
}

export interface RequestSpec {
  /** e.g. `create machine mauntic-dev-redis-0`. */
  what: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Below /v1, e.g. `/apps/mauntic-dev-redis/machines`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * `all`: repeating it does no harm (GET, DELETE, full-config updates under a lease): retry 409/429/5xx/drops.
   * `refused`: retry only what Fly refused before acting (429, and 409 when a lease may be held).
   * `transient`: retry 429/5xx/drops but not 409 (the caller handles a held lease itself).
   * `none`: one try.
   */
  retry: "all" | "refused" | "transient" | "none";
  /** Pacing key: the action and, for machine actions, the machine id. Defaults to method + path. */
  paceKey?: string;
  /** Extra time for this request (a `/wait`). */
  extraTimeoutMs?: number;
}

export interface FlyClient {
  request<T>(spec: RequestSpec): Promise<T>;
  /** A GET that answers undefined for 404. */
  readOptional<T>(spec: Omit<RequestSpec, "method" | "retry">): Promise<T | undefined>;
  /**
   * Runs `attempt` until it succeeds, retrying what `retryable` accepts with backoff within the retry budget. The
   * providers' create-or-adopt loops run here: each attempt looks the resource up by name first.
   */
  retry<R>(retryable: (e: FlyApiError) => boolean, attempt: (n: number) => Promise<R>): Promise<R>;
  /**
   * Waits until the machine is in `state` (at `version` when given), one `/wait` of at most 60 s at a time; a 408
   * only means that call timed out. `settled` is flyctl's wait for any resting state (internal/machine/update.go:
   * started, stopped, suspended or failed). Gives up after stateTimeoutMs with the state it last saw.
   */
  waitForState(
    app: string,
    machineId: string,
    state: string,
    version?: string,
    opts?: { justCreated?: boolean },
  ): Promise<void>;
  /**
   * Polls `probe` every pollMs until it answers something, for at most `timeoutMs`; then fails with `what` (which
   * the probe may have updated with what it last saw).
   */
  until<T>(what: string | (() => string), timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T>;
  readonly settings: Readonly<Settings>;
}

export function createFlyClient(options: FlyClientOptions): FlyClient {
  if (!options.token) throw credentialsError();
  const { token, ...rest } = options;
  const settings: Settings = {
    ...DEFAULTS,
    ...(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<Settings>),
  };
  const auth = authorizationHeader(token);

  async function pace(key: string): Promise<void> {
    const map = buckets();
    for (;;) {
      const now = Date.now();
      const b = map.get(key) ?? { tokens: settings.burst, at: now };
      b.tokens = Math.min(settings.burst, b.tokens + ((now - b.at) / 1000) * settings.ratePerSecond);
      b.at = now;
      map.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - b.tokens) / settings.ratePerSecond) * 1000));
    }
  }

  async function once<T>(spec: RequestSpec): Promise<T> {
    await pace(spec.paceKey ?? `${spec.method} ${spec.path}`);
    const url = new URL(settings.baseUrl.replace(/\/$/, "") + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const requestId = globalThis.crypto.randomUUID();
    let res: Response;
    try {
      res = await fetch(url, {
        method: spec.method,
        headers: {
          authorization: auth,
          accept: "application/json",
          "x-request-id": requestId,
          ...(spec.body !== undefined ? { "content-type": "application/json" } : {}),
          ...spec.headers,
        },
        body: spec.body !== undefined ? JSON.stringify(spec.body) : undefined,
        signal: AbortSignal.timeout(settings.requestTimeoutMs + (spec.extraTimeoutMs ?? 0)),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const reason = err.name === "TimeoutError" ? "timed out" : `connection failed (${err.cause?.code ?? err.name})`;
      throw flyApiError({ what: spec.what, status: undefined, flyStatus: "", flyMessage: reason, requestId });
    }
    const text = await res.text().catch(() => "");
    const flyRequestId = res.headers.get("fly-request-id") ?? requestId;
    if (!res.ok) {
      let body: { error?: unknown; status?: unknown; message?: unknown; code?: unknown } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        /* a proxy's HTML or empty body */
      }
      const retryAfter = Number(res.headers.get("retry-after") ?? Number.NaN);
      throw flyApiError({
        what: spec.what,
        status: res.status,
        flyStatus: typeof body.status === "string" ? body.status : "",
        // Fly's words, wherever the answer puts them: `error` (flaps errorResponse), `message` (fly-go MachineLease).
        flyMessage:
          [body.error, body.message].find((m): m is string => typeof m === "string" && m !== "") ??
          (text && text.length < 300 && !text.startsWith("<") ? text.trim() : res.statusText || "no message"),
        requestId: flyRequestId,
        retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
      });
    }
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  function backoff(attempt: number, err: FlyApiError): number {
    if (err.retryAfterSeconds !== undefined) return Math.max(err.retryAfterSeconds * 1000, settings.backoffBaseMs);
    const cap = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** (attempt - 1));
    return cap / 2 + Math.random() * (cap / 2);
  }

  const client: FlyClient = {
    settings,
    async retry(retryable, attempt) {
      const deadline = Date.now() + settings.retryBudgetMs;
      for (let n = 1; ; n++) {
        try {
          return await attempt(n);
        } catch (e) {
          if (!isFlyApiError(e)) throw e;
          if (!retryable(e)) throw flyApiError({ ...e, attempts: n });
          const wait = backoff(n, e);
          if (Date.now() + wait > deadline) throw flyApiError({ ...e, attempts: n });
          await sleep(wait);
        }
      }
    },
    request<T>(spec: RequestSpec) {
      const retryable =
        spec.retry === "all"
          ? (e: FlyApiError) => notApplied(e) || outcomeUnknown(e)
          : spec.retry === "refused"
            ? notApplied
            : spec.retry === "transient"
              ? (e: FlyApiError) => e.status === 429 || outcomeUnknown(e)
              : () => false;
      return client.retry(retryable, () => once<T>(spec));
    },
    async readOptional<T>(spec: Omit<RequestSpec, "method" | "retry">) {
      try {
        return await client.request<T>({ ...spec, method: "GET", retry: "all" });
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async waitForState(app, machineId, state, version, opts) {
      const deadline = Date.now() + settings.stateTimeoutMs;
      const visibleBy = Date.now() + settings.visibilityTimeoutMs;
      for (;;) {
        const left = Math.ceil((deadline - Date.now()) / 1000);
        const timeout = Math.max(1, Math.min(settings.waitSeconds, MAX_WAIT_SECONDS, left));
        try {
          const spec: RequestSpec = {
            what: `wait for machine ${machineId} to be ${state}`,
            method: "GET",
            path: `/apps/${app}/machines/${machineId}/wait`,
            query: { state, timeout, version },
            retry: "all",
            paceKey: `wait ${machineId}`,
            extraTimeoutMs: timeout * 1000,
          };
          // A 408 ends this one /wait (the machine is still on its way): the loop below decides, not the retry.
          await client.retry(
            (e) => e.status !== 408 && (notApplied(e) || outcomeUnknown(e)),
            () => once(spec),
          );
          return;
        } catch (e) {
          if (!isFlyApiError(e)) throw e;
          // A machine just created may not be visible for a moment: flyctl's WaitForState retries a 404 then
          // (internal/machine/leasable_machine.go, justCreated).
          const invisible = e.status === 404 && opts?.justCreated && Date.now() < visibleBy;
          if (invisible) {
            await sleep(settings.pollMs);
            continue;
          }
          if (e.status !== 408) throw e;
          if (Date.now() >= deadline) {
            const m = await client.readOptional<{ state?: string }>({
              what: `read machine ${machineId}`,
              path: `/apps/${app}/machines/${machineId}`,
            });
            const limit = Math.round(settings.stateTimeoutMs / 1000);
            throw new Error(
              `Fly machine ${machineId} of app ${app} is still ${m?.state ?? "gone"} after ${limit} s (allowed: ${state === "settled" ? "started" : state} within ${limit} s); its logs: fly logs -a ${app} -i ${machineId}`,
            );
          }
        }
      }
    },
    async until<T>(what: string | (() => string), timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = await probe();
        if (got !== undefined) return got;
        if (Date.now() >= deadline) {
          throw new Error(`${typeof what === "string" ? what : what()} (waited ${Math.round(timeoutMs / 1000)} s)`);
        }
        await sleep(settings.pollMs);
      }
    },
  };
  Object.defineProperty(client, "toJSON", { value: () => `FlyClient(${settings.baseUrl})`, enumerable: false });
  return client;
}

/** Overrides for tests and rehearsals against a local fake; production uses the defaults and the environment. */
export function configureFlyClient(options: Partial<FlyClientOptions> | undefined): void {
  const g = globalThis as { [k: symbol]: Partial<FlyClientOptions> | undefined };
  g[Symbol.for("mauntic-infra.fly.clientOptions")] = options;
}

/** The token from the dynamic provider's `configure` (stack config), kept in process memory only. */
export function setConfiguredFlyToken(token: string | undefined): void {
  const g = globalThis as { [k: symbol]: string | undefined };
  g[Symbol.for("mauntic-infra.fly.configuredToken")] = token;
}

/** The client the providers use: overrides, then the secret stack config key, then FLY_API_TOKEN; FLY_API_URL for a fake. */
export function flyClient(): FlyClient {
  const g = globalThis as { [k: symbol]: unknown };
  const overrides = (g[Symbol.for("mauntic-infra.fly.clientOptions")] ?? {}) as Partial<FlyClientOptions>;
  const configured = g[Symbol.for("mauntic-infra.fly.configuredToken")] as string | undefined;
  const token = overrides.token || configured || process.env.FLY_API_TOKEN;
  if (!token) throw credentialsError();
  return createFlyClient({ ...overrides, token, baseUrl: overrides.baseUrl ?? process.env.FLY_API_URL });
}
