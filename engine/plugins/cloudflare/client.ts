/**
 * The stand-in plugin's HTTP client for Cloudflare's API v4, calling it the way the Terraform provider's client
 * (cloudflare-go v6, used by terraform-provider-cloudflare v5) does: bearer token, JSON bodies, the `result` of the
 * envelope, R2's jurisdiction in the `cf-r2-jurisdiction` header, and retries of 429/5xx (cloudflare-go
 * internal/requestconfig: two retries by default, honouring Retry-After). Errors read as the provider reports
 * them: `failed to make http request: <METHOD> "<url>": <status> <text> <body>` (resource.go of each resource:
 * resp.Diagnostics.AddError("failed to make http request", err.Error())).
 */
export const DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4";

export class CloudflareHttpError extends Error {
  constructor(
    readonly status: number,
    readonly codes: number[],
    message: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  token: string;
  baseUrl: string;
  /** Retries of a 429 or 5xx answer (cloudflare-go's default is 2). */
  maxRetries?: number;
  /** Longest wait for one Retry-After, in ms (tests keep it short). */
  maxRetryWaitMs?: number;
}

export class CloudflareClient {
  constructor(readonly opts: ClientOptions) {}

  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; result: T | undefined }> {
    const url = `${this.opts.baseUrl.replace(/\/$/, "")}${path}`;
    const maxRetries = this.opts.maxRetries ?? 2;
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.opts.token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if ((res.status === 429 || res.status >= 500) && attempt < maxRetries) {
        const after = Number(res.headers.get("retry-after") ?? "0.5");
        await new Promise((r) => setTimeout(r, Math.min(after * 1000, this.opts.maxRetryWaitMs ?? 60_000)));
        continue;
      }
      if (res.status === 204) return { status: 204, result: undefined };
      let json: { success?: boolean; result?: T; errors?: { code: number; message: string }[] } = {};
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        json = {};
      }
      if (!res.ok) {
        throw new CloudflareHttpError(
          res.status,
          (json.errors ?? []).map((e) => e.code),
          `failed to make http request: ${method} "${url}": ${res.status} ${res.statusText} ${text}`,
        );
      }
      return { status: res.status, result: json.result };
    }
  }

  /** GET that answers undefined on 404 (each resource's Read: `if res.StatusCode == 404 { RemoveResource }`). */
  async find<T = any>(path: string, headers: Record<string, string> = {}): Promise<T | undefined> {
    try {
      return (await this.call<T>("GET", path, undefined, headers)).result;
    } catch (e) {
      if (e instanceof CloudflareHttpError && e.status === 404) return undefined;
      throw e;
    }
  }
}

/** `cf-r2-jurisdiction` as the provider sends it (consts.R2JurisdictionHTTPHeaderName; "default" included). */
export function jurisdictionHeader(jurisdiction: string | undefined): Record<string, string> {
  return { "cf-r2-jurisdiction": jurisdiction ?? "default" };
}
