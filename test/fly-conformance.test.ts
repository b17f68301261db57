/**
 * Conformance with what Fly documents it answers: every example answer in Fly's docs for an endpoint we call
 * (test/fixtures/fly-docs-examples.ts) passes the fake's contract (test/fakes/fly-contract.ts), and the client and
 * providers, fed those exact answers by a scripted stand-in on 127.0.0.1, do what they should with them (the lease
 * nonce from `data.nonce` is the one sent back, ids and names are read where the docs put them).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { LEASE_NONCE_HEADER, configureFlyClient } from "../infra/fly/client";
import { appProvider, machineProvider, volumeProvider, type MachineInputs } from "../infra/fly/providers";
import { OPERATIONS, checkResponse } from "./fakes/fly-contract";
import { FLY_DOC_EXAMPLES } from "./fixtures/fly-docs-examples";

const TOKEN = "conformance-token";
const example = (operation: string, status = 200) => {
  const e = FLY_DOC_EXAMPLES.find((x) => x.operation === operation && x.status === status);
  if (!e) throw new Error(`no docs example for ${operation} ${status}`);
  return structuredClone(e.body);
};

describe("every documented example answer passes the contract", () => {
  for (const e of FLY_DOC_EXAMPLES) {
    test(`${e.operation} ${e.status} (${e.source})`, () => {
      const op = OPERATIONS.find((o) => o.id === e.operation);
      expect(op, `operation ${e.operation} is in the contract`).toBeDefined();
      expect(checkResponse(op, e.status, e.body)).toBeUndefined();
    });
  }
});

// ---- a scripted stand-in: each route answers what the docs show ------------------------------------------------

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}
type Answer = [number, unknown];
let routes: { method: string; path: RegExp; answer: (seen: Seen) => Answer }[] = [];
let seen: Seen[] = [];
let server: http.Server;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const raw = Buffer.concat(chunks).toString();
      const s: Seen = {
        method: req.method ?? "GET",
        path: url.pathname.replace(/^\/v1/, ""),
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: raw ? JSON.parse(raw) : undefined,
      };
      seen.push(s);
      const route = routes.find((r) => r.method === s.method && r.path.test(s.path));
      const [status, body] = route ? route.answer(s) : [404, { error: `no route ${s.method} ${s.path}` }];
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body === undefined ? "" : JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
});

afterAll(async () => {
  configureFlyClient(undefined);
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  routes = [];
  seen = [];
  configureFlyClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    token: TOKEN,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    retryBudgetMs: 2_000,
    ratePerSecond: 1_000,
    burst: 1_000,
    pollMs: 5,
    stateTimeoutMs: 2_000,
    visibilityTimeoutMs: 1_000,
  });
});

const on = (method: string, path: RegExp, answer: Answer | ((s: Seen) => Answer)) =>
  routes.push({ method, path, answer: typeof answer === "function" ? answer : () => answer });

test("app: created with ?wait=true from the docs' 201, read back from the docs' app details", async () => {
  on("POST", /^\/apps$/, [201, example("Apps_create", 201)]);
  on("GET", /^\/apps\/my-app-name$/, [200, example("Apps_show")]);
  const created = await appProvider.create!({ name: "my-app-name", org_slug: "personal" });
  expect(created.outs).toMatchObject({ name: "my-app-name", org_slug: "personal", app_id: "jlyv9r5d56v18xrg" });
  expect(seen[0]).toMatchObject({ method: "POST", query: { wait: "true" } });
  // The reference partial's app details have no id: the name stands in.
  routes = [];
  on("GET", /^\/apps\/my-app-name$/, [200, FLY_DOC_EXAMPLES.find((e) => e.source.includes("_get_app_resp"))!.body]);
  const read = await appProvider.read!("my-app-name", { name: "my-app-name", org_slug: "x", app_id: "a" });
  expect(read.props).toMatchObject({ org_slug: "personal", name: "my-app-name" });
});

test("app delete: the docs' 202 with no body, then the docs' 404 once it is gone", async () => {
  let deleted = false;
  on("DELETE", /^\/apps\/my-app-name$/, () => ((deleted = true), [202, undefined]));
  on("GET", /^\/apps\/my-app-name$/, () => (deleted ? [404, example("Apps_show", 404)] : [200, example("Apps_show")]));
  await appProvider.delete!("my-app-name", {});
  expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(["DELETE /apps/my-app-name", "GET /apps/my-app-name"]);
  expect(seen[0]!.query).toEqual({ force: "true" });
});

test("volume: the docs' list, create, get, update, extend and delete answers", async () => {
  on("GET", /^\/apps\/a\/volumes$/, [200, example("Volumes_list")]);
  on("POST", /^\/apps\/a\/volumes$/, [200, example("Volumes_create")]);
  const inputs = {
    app_name: "a",
    name: "new_1028_vol",
    region: "ord",
    size_gb: 10,
    encrypted: true,
    snapshot_retention: 5,
    compute: { cpu_kind: "shared" as const, cpus: 1, memory_mb: 512 },
  };
  const created = await volumeProvider.create!(inputs);
  expect(created.id).toBe("vol_340088w293z35lp4");
  expect(seen.at(-1)!.body).toMatchObject({ compute: { cpu_kind: "shared", cpus: 1, memory_mb: 512 } });

  on("GET", /^\/apps\/a\/volumes\/[^/]+$/, [200, example("Volumes_get_by_id")]);
  const read = await volumeProvider.read!("vvol_6r7ye90k98ynwk1r", { ...inputs, volume_id: "x" });
  expect(read.props).toMatchObject({ name: "disk", size_gb: 3, region: "yul" });

  // needs_restart false in the docs' answer: no machine is touched.
  on("PUT", /\/extend$/, [200, example("Volumes_extend")]);
  on("PUT", /^\/apps\/a\/volumes\/[^/]+$/, [200, example("Volumes_update")]);
  seen = [];
  await volumeProvider.update!(
    "vol_9vw681egy1jj5xm4",
    { ...inputs, size_gb: 3, volume_id: "v" },
    {
      ...inputs,
      snapshot_retention: 7,
    },
  );
  expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
    "PUT /apps/a/volumes/vol_9vw681egy1jj5xm4/extend",
    "PUT /apps/a/volumes/vol_9vw681egy1jj5xm4",
  ]);

  on("DELETE", /^\/apps\/a\/volumes\/[^/]+$/, [200, example("Volume_delete")]);
  await volumeProvider.delete!("vol_grnejj355dqdj9kr", { ...inputs, volume_id: "vol_grnejj355dqdj9kr" });
});

test("machine: created from the docs' answer; updated under the docs' lease, its data.nonce sent back", async () => {
  const inputs: MachineInputs = {
    app_name: "a",
    name: "aged-thunder-7371",
    region: "ord",
    config: {
      image: "registry-1.docker.io/library/ubuntu:latest",
      guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
    },
  };
  on("GET", /^\/apps\/a\/machines$/, [200, []]);
  on("POST", /^\/apps\/a\/machines$/, [200, example("Machines_create")]);
  on("GET", /\/wait$/, [200, { ok: true }]);
  // The docs' get answer, for the machine the docs' create answer made (the examples name different machines).
  on("GET", /^\/apps\/a\/machines\/[^/]+$/, (q) => [
    200,
    { ...(example("Machines_show") as object), id: q.path.split("/").pop() },
  ]);
  const created = await machineProvider.create!(inputs);
  expect(created.id).toBe("1857156b526dd8");
  expect(created.outs).toMatchObject({ machine_id: "1857156b526dd8", private_ip: "fdaa:0:18:a7b:196:e274:9ce1:2" });

  on("POST", /\/lease$/, [200, example("Machines_create_lease")]);
  on("DELETE", /\/lease$/, [200, example("Machines_release_lease")]);
  on("POST", /^\/apps\/a\/machines\/[^/]+$/, [200, example("Machines_update")]);
  seen = [];
  await machineProvider.update!("73d8d46dbee589", created.outs as never, inputs);
  const nonce = (example("Machines_create_lease") as { data: { nonce: string } }).data.nonce;
  const update = seen.find((s) => s.method === "POST" && s.path === "/apps/a/machines/73d8d46dbee589")!;
  expect(update.headers[LEASE_NONCE_HEADER]).toBe(nonce);
  const release = seen.find((s) => s.method === "DELETE" && s.path.endsWith("/lease"))!;
  expect(release.headers[LEASE_NONCE_HEADER]).toBe(nonce);
  // The update waits for the version Fly's answer names to settle.
  const wait = seen.find((s) => s.path.endsWith("/wait"))!;
  expect(wait.query).toMatchObject({ state: "settled", version: "01G3SHPYE8XZ58GD4XRRF9CCKC" });
});

test("a lease answer whose status is not success is no lease: named, not used as `undefined`", async () => {
  on("POST", /\/lease$/, [200, { status: "error", code: "lease_conflict", message: "machine is busy" }]);
  const inputs: MachineInputs = {
    app_name: "a",
    name: "m",
    region: "ord",
    config: { image: "x", guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 } },
  };
  await expect(machineProvider.update!("m1", inputs as never, inputs)).rejects.toThrow(
    /answered no lease \(status error, code lease_conflict: machine is busy\)/,
  );
  expect(seen.some((s) => s.headers[LEASE_NONCE_HEADER] === "undefined")).toBe(false);
});

test("Fly's own words are kept whether the answer calls them `error` or `message`", async () => {
  on("GET", /^\/apps\/a\/volumes$/, [200, []]);
  on("POST", /^\/apps\/a\/volumes$/, [400, { message: "size_gb must be at most 500" }]);
  const inputs = { app_name: "a", name: "v", region: "ord", size_gb: 1, encrypted: true, snapshot_retention: 5 };
  await expect(volumeProvider.create!(inputs)).rejects.toThrow(
    /create volume v failed: HTTP 400: size_gb must be at most 500/,
  );
  routes = [];
  on("GET", /^\/apps\/a\/volumes$/, [200, []]);
  on("POST", /^\/apps\/a\/volumes$/, [400, { error: "region xyz not found" }]);
  await expect(volumeProvider.create!(inputs)).rejects.toThrow(/HTTP 400: region xyz not found/);
});
