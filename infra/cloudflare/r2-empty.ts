/**
 * Emptying a preview's R2 bucket, so that `pulumi destroy -s pr-<N>` can delete it: R2 refuses to delete a bucket
 * that holds objects (API error 10008, "The bucket you tried to delete is not empty"). A preview destroy runs this
 * through a `command:local:Command` whose delete step is ordered before the bucket's (r2.ts).
 *
 * It can never touch dev's or prod's data: it refuses any stack but a preview `pr-<N>`, and any bucket not named
 * `mauntic-pr-<N>-…` for that very N (the naming function's prefix; dev's and prod's buckets are `mauntic-dev-…` and
 * `mauntic-prod-…`).
 *
 * The Cloudflare REST API with the account's API token (the one the deploy uses), no S3 credentials, through its
 * documented object endpoints (Cloudflare's OpenAPI, as the generated SDK cloudflare/cloudflare-typescript
 * src/resources/r2/buckets/objects.ts carries it): "List Objects" `GET /accounts/{account}/r2/buckets/{bucket}/objects`
 * (`per_page`, `cursor`; `result[].key`) and "Delete Object" `DELETE .../objects/{object_key}`, one key each; a
 * non-default jurisdiction goes in the `cf-r2-jurisdiction` header. R2 error codes: 10006 no such bucket, 10007 no
 * such key (developers.cloudflare.com/r2/api/error-codes). Written by hand over `fetch`: the `cloudflare` npm SDK
 * is not a dependency, and two calls do not warrant one.
 */
import { cloudName, parseStackName } from "../naming";

export const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";
/** The delete step of a preview bucket's emptier (r2.ts) runs `r2-empty` with these variables. */
export const R2_EMPTY_ENV = {
  stack: "MAUNTIC_STACK",
  accountId: "R2_ACCOUNT_ID",
  bucket: "R2_BUCKET",
  jurisdiction: "R2_JURISDICTION",
} as const;

/** R2 error codes: no such bucket; no such key; bucket not empty. */
export const R2_NO_SUCH_BUCKET = 10006;
export const R2_NO_SUCH_KEY = 10007;
export const R2_BUCKET_NOT_EMPTY = 10008;

/** A bucket this tool must never empty (the CLI exits 2). */
export class BucketRefusedError extends Error {
  override name = "BucketRefusedError";
}

/** Throws BucketRefusedError unless `bucket` is one of preview stack `stack`'s own buckets. */
export function assertPreviewBucket(stack: string, bucket: string): void {
  const { kind } = parseStackName(stack);
  if (kind !== "preview") {
    throw new BucketRefusedError(
      `refusing to empty R2 bucket '${bucket}': stack '${stack}' is not a preview stack, and only a preview's ` +
        `buckets are ever emptied (allowed: pr-<N>)`,
    );
  }
  const prefix = `${cloudName(stack, "r2", "x").slice(0, -1)}`;
  if (!bucket.startsWith(prefix) || bucket.length === prefix.length) {
    throw new BucketRefusedError(
      `refusing to empty R2 bucket '${bucket}': it is not one of stack ${stack}'s buckets (allowed: ${prefix}<bucket>)`,
    );
  }
}

export interface EmptyBucketOptions {
  stack: string;
  accountId: string;
  bucket: string;
  /** `default`, `eu` or `fedramp`. */
  jurisdiction?: string;
  token: string;
  /** The API base (tests point it at a local fake). */
  baseUrl?: string;
  /** Attempts per request on 429 and 5xx (with backoff, honouring Retry-After). */
  attempts?: number;
  /** Object deletes in flight at once (one request per key). */
  concurrency?: number;
  onProgress?: (line: string) => void;
}

interface ApiBody {
  success: boolean;
  errors?: { code: number; message: string }[];
  result?: unknown;
  result_info?: { cursor?: string; is_truncated?: boolean };
}

export class CloudflareApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly codes: number[],
  ) {
    super(message);
    this.name = "CloudflareApiError";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(url: string, init: RequestInit, what: string, attempts: number): Promise<ApiBody> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      if (attempt >= attempts) throw new Error(`${what}: ${(e as Error).message} (${new URL(url).host})`);
      await sleep(200 * 2 ** attempt);
      continue;
    }
    const text = await res.text();
    let body: ApiBody;
    try {
      body = JSON.parse(text) as ApiBody;
    } catch {
      body = { success: false, errors: [{ code: 0, message: text.slice(0, 200) }] };
    }
    if ((res.status === 429 || res.status >= 500) && attempt < attempts) {
      const retryAfter = Number(res.headers.get("retry-after"));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : 200 * 2 ** attempt);
      continue;
    }
    if (!res.ok || !body.success) {
      const errors = body.errors ?? [];
      throw new CloudflareApiError(
        `${what}: HTTP ${res.status} ${errors.map((e) => `[${e.code}] ${e.message}`).join("; ") || text.slice(0, 200)}`,
        res.status,
        errors.map((e) => e.code),
      );
    }
    return body;
  }
}

/** An object key in a URL path: each segment encoded, the slashes kept (keys are paths). */
export function objectPath(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

/**
 * Deletes every object of a preview's bucket, page by page, until a listing comes back empty (objects uploaded
 * meanwhile are caught by the next pass). A bucket that no longer exists counts as empty, and so does a key deleted
 * meanwhile.
 */
export async function emptyPreviewBucket(opts: EmptyBucketOptions): Promise<{ deleted: number }> {
  assertPreviewBucket(opts.stack, opts.bucket);
  const base = `${opts.baseUrl ?? CLOUDFLARE_API}/accounts/${encodeURIComponent(opts.accountId)}/r2/buckets/${encodeURIComponent(opts.bucket)}/objects`;
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
  if (opts.jurisdiction && opts.jurisdiction !== "default") headers["cf-r2-jurisdiction"] = opts.jurisdiction;
  const attempts = opts.attempts ?? 5;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  let deleted = 0;
  let previous: string[] | undefined;
  const deleteOne = async (key: string) => {
    try {
      await call(`${base}/${objectPath(key)}`, { method: "DELETE", headers }, `delete ${key} from ${opts.bucket}`, attempts);
    } catch (e) {
      if (!(e instanceof CloudflareApiError && e.codes.includes(R2_NO_SUCH_KEY))) throw e;
    }
  };
  for (;;) {
    let keys: string[];
    try {
      const page = await call(`${base}?per_page=1000`, { headers }, `list objects of ${opts.bucket}`, attempts);
      keys = ((page.result as { key: string }[] | undefined) ?? []).map((o) => o.key);
    } catch (e) {
      if (e instanceof CloudflareApiError && e.codes.includes(R2_NO_SUCH_BUCKET)) return { deleted };
      throw e;
    }
    if (keys.length === 0) return { deleted };
    // A listing that repeats the last pass's keys means the deletes did not take (a key the endpoint cannot address):
    // stop rather than loop.
    if (previous !== undefined && keys.length === previous.length && keys.every((k, i) => k === previous![i])) {
      throw new Error(`${opts.bucket}: the same ${keys.length} objects are still listed after deleting them`);
    }
    previous = keys;
    for (let i = 0; i < keys.length; i += concurrency) {
      await Promise.all(keys.slice(i, i + concurrency).map(deleteOne));
    }
    deleted += keys.length;
    opts.onProgress?.(`${opts.bucket}: ${deleted} objects deleted`);
  }
}
