/**
 * A local fake of the Cloudflare REST API's R2 object and bucket calls that the preview emptier and a destroy use,
 * modelling what R2 does on its own: it refuses to delete a non-empty bucket (error 10008), answers 10006 for a
 * bucket that does not exist, pages listings (at most 1000 keys, an opaque cursor), keeps jurisdictions apart
 * (`cf-r2-jurisdiction`), checks the bearer token (10000), and rate-limits when told to (429, faults queue).
 * Envelope and codes as Cloudflare's v4 API returns them ({success, errors[{code,message}], messages, result,
 * result_info}); "List Objects" and "Delete Object" (one key per request; 10007 for a key that does not exist) as
 * Cloudflare's OpenAPI documents them (cloudflare/cloudflare-typescript src/resources/r2/buckets/objects.ts). The
 * undocumented bulk delete (DELETE .../objects with a JSON array of keys) is not served: "No route".
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest {
  method: string;
  path: string;
  jurisdiction: string;
}

export class FakeR2Api {
  /** `<jurisdiction>/<bucket>` -> keys. */
  readonly buckets = new Map<string, Set<string>>();
  readonly requests: FakeRequest[] = [];
  /** Statuses to answer the next requests with before serving them (429, 503...). */
  faults: number[] = [];
  /** The most keys one listing returns (R2's maximum is 1000; smaller to exercise paging). */
  pageLimit = 1000;
  private server?: http.Server;

  constructor(readonly token = "test-cloudflare-token") {}

  addBucket(name: string, keys: string[], jurisdiction = "default"): void {
    this.buckets.set(`${jurisdiction}/${name}`, new Set(keys));
  }

  objects(name: string, jurisdiction = "default"): string[] | undefined {
    const b = this.buckets.get(`${jurisdiction}/${name}`);
    return b ? [...b].sort() : undefined;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/client/v4`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private handle(req: http.IncomingMessage, _body: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const jurisdiction = String(req.headers["cf-r2-jurisdiction"] ?? "default");
    this.requests.push({ method: req.method ?? "", path: url.pathname, jurisdiction });
    const send = (status: number, payload: Record<string, unknown>) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [], messages: [], ...payload }));
    };
    const fail = (status: number, code: number, message: string) =>
      send(status, { success: false, errors: [{ code, message }], result: null });

    const fault = this.faults.shift();
    if (fault !== undefined) return fail(fault, fault === 429 ? 971 : 10001, `injected ${fault}`);
    if (req.headers.authorization !== `Bearer ${this.token}`) return fail(403, 10000, "Authentication error");

    const m = /^\/client\/v4\/accounts\/([0-9a-f]{32})\/r2\/buckets\/([^/]+)(\/objects)?(?:\/(.+))?$/.exec(url.pathname);
    if (m && m[4] !== undefined && !m[3]) return fail(404, 7000, "No route for that URI");
    if (m && m[3] && m[4] === undefined && req.method === "DELETE") return fail(404, 7000, "No route for that URI");
    if (!m) return fail(404, 7000, "No route for that URI");
    const bucketKey = `${jurisdiction}/${decodeURIComponent(m[2]!)}`;
    const bucket = this.buckets.get(bucketKey);
    if (!bucket) return fail(404, 10006, "The specified bucket does not exist.");

    if (m[3] && m[4] === undefined && req.method === "GET") {
      const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 1000), 1000, this.pageLimit);
      const sorted = [...bucket].sort();
      const cursor = url.searchParams.get("cursor");
      const start = cursor ? Number(Buffer.from(cursor, "base64url").toString()) : 0;
      const page = sorted.slice(start, start + perPage);
      const truncated = start + perPage < sorted.length;
      return send(200, {
        success: true,
        result: page.map((key) => ({ key, size: 1, etag: "e", http_metadata: {} })),
        result_info: {
          per_page: perPage,
          is_truncated: truncated,
          ...(truncated ? { cursor: Buffer.from(String(start + perPage)).toString("base64url") } : {}),
        },
      });
    }
    if (m[3] && m[4] !== undefined && req.method === "DELETE") {
      const key = m[4].split("/").map(decodeURIComponent).join("/");
      if (!bucket.has(key)) return fail(404, 10007, "The specified key does not exist.");
      bucket.delete(key);
      return send(200, { success: true, result: { key } });
    }
    if (!m[3] && req.method === "DELETE") {
      if (bucket.size > 0) return fail(409, 10008, "The bucket you tried to delete is not empty.");
      this.buckets.delete(bucketKey);
      return send(200, { success: true, result: {} });
    }
    return fail(405, 10000, "method not allowed");
  }
}
