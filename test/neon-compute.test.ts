/**
 * Real PostgreSQL behind the fake Neon's endpoints (./fakes/neon-compute.ts): child Node processes, started with
 * the compute's env() as the Pulumi engine starts its providers and the post-deploy command, connect by Neon's own
 * host names with `sslmode=require` (certificate verified) and reach the branch's cluster, with Neon's role model.
 * Everything goes through the fake's HTTP API, as the providers do.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeNeon } from "./fakes/neon";
import { NEON_PROXY_ERRORS, startNeonCompute, type NeonCompute } from "./fakes/neon-compute";

const ROOT = path.resolve(__dirname, "..");
const RESOLVER = path.join(__dirname, "fakes", "loopback-resolver.cjs");

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node -e <code> <args...>` in the project root (so `require("pg")` finds the project's pg). */
function node(code: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["-e", code, ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The child's side: connect with node-postgres to argv[1], run argv[2], print the rows or the error as JSON. */
const PG_CHILD = `
const { Client } = require("pg");
(async () => {
  const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 20000 });
  try {
    await c.connect();
    const r = await c.query(process.argv[2]);
    console.log(JSON.stringify({ rows: (Array.isArray(r) ? r.at(-1) : r).rows }));
  } catch (e) {
    console.log(JSON.stringify({ error: e.message }));
  } finally {
    await c.end().catch(() => {});
  }
})();
`;

describe("loopback resolver (NODE_OPTIONS=--require)", () => {
  it("sends names under MAUNTIC_LOOPBACK_DOMAINS to 127.0.0.1 for net, fetch and dns, in a child process", async () => {
    const server = http.createServer((req, res) => res.end(`host=${req.headers.host}`));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const code = `
        const net = require("node:net"), dns = require("node:dns");
        (async () => {
          const name = "ep-quiet-bold-000001.us-east-2.aws.neon.tech";
          const viaNet = await new Promise((ok, ko) => {
            const s = net.connect(Number(process.argv[1]), name, () => { ok(s.remoteAddress); s.destroy(); });
            s.on("error", ko);
          });
          const viaFetch = await (await fetch("http://" + name + ":" + process.argv[1] + "/")).text();
          const all = await dns.promises.lookup("NEON.TECH.", { all: true });
          const cb = await new Promise((ok) => dns.lookup(name, { family: 4 }, (e, a, f) => ok([a, f])));
          const v6 = await dns.promises.lookup(name, { family: 6 }).catch((e) => e.code);
          console.log(JSON.stringify({ viaNet, viaFetch, all, cb, v6 }));
        })().catch((e) => { console.log(JSON.stringify({ error: e.message })); });`;
      const ran = await node(code, [String(port)], {
        ...process.env,
        NODE_OPTIONS: `--require ${RESOLVER}`,
        MAUNTIC_LOOPBACK_DOMAINS: ".neon.tech",
      });
      expect(ran.stderr).toBe("");
      expect(JSON.parse(ran.stdout)).toEqual({
        viaNet: "127.0.0.1",
        viaFetch: `host=ep-quiet-bold-000001.us-east-2.aws.neon.tech:${port}`,
        all: [{ address: "127.0.0.1", family: 4 }],
        cb: ["127.0.0.1", 4],
        v6: "ENOTFOUND",
      });
    } finally {
      server.close();
    }
  });

  it("matches a suffix at a label boundary only", async () => {
    const code = `
      const { isLoopback } = require(process.argv[1]);
      console.log(JSON.stringify(["a.neon.tech", "neon.tech", "x.y.neon.tech.", "notneon.tech", "neon.tech.example.com", "localhost"].map(isLoopback)));`;
    const ran = await node(code, [RESOLVER], { ...process.env, MAUNTIC_LOOPBACK_DOMAINS: " .neon.tech , " });
    expect(JSON.parse(ran.stdout)).toEqual([true, true, true, false, false, false]);
    const none = await node(code, [RESOLVER], { ...process.env, MAUNTIC_LOOPBACK_DOMAINS: "" });
    expect(JSON.parse(none.stdout)).toEqual([false, false, false, false, false, false]);
  });
});

describe("Neon compute behind the fake's endpoints", () => {
  const fake = new FakeNeon();
  let compute: NeonCompute;
  let childEnv: NodeJS.ProcessEnv;

  /**
   * A call to the fake's API as the providers make it; the clock first moves past the last operation (423). One
   * connection per call: a kept-alive socket the fake's server closed while a slow step ran would reset the next one.
   */
  function api<T = Record<string, any>>(method: string, p: string, body?: unknown): Promise<T> {
    fake.advance(1000);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${fake.baseUrl}${p}`,
        {
          method,
          agent: false,
          headers: {
            authorization: `Bearer ${fake.apiKey}`,
            accept: "application/json",
            ...(payload ? { "content-type": "application/json" } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${p}: ${res.statusCode} ${text}`));
            else resolve(JSON.parse(text) as T);
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
  const uri = (user: string, password: string, host: string, db: string) =>
    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${compute.port}/${db}?sslmode=require`;
  const sql = async (url: string, query: string, env = childEnv) => {
    const ran = await node(PG_CHILD, [url, query], env);
    if (!ran.stdout.trim()) throw new Error(`child printed nothing (exit ${ran.code}): ${ran.stderr}`);
    return JSON.parse(ran.stdout) as { rows?: Record<string, unknown>[]; error?: string };
  };

  let projectId: string;
  let mainBranch: string;
  let host: string;
  let appPassword: string;

  beforeAll(async () => {
    await fake.start();
    // Port 0: test files run in parallel; the engine suite takes the default, 5432, which the URIs name.
    compute = await startNeonCompute(fake, { port: 0 });
    childEnv = { ...process.env, ...compute.env() };
    const created = await api("POST", "/projects", { project: { name: "compute-test", pg_version: 17 } });
    projectId = created.project.id;
    mainBranch = created.branch.id;
    host = created.endpoints[0].host;
    const role = await api("POST", `/projects/${projectId}/branches/${mainBranch}/roles`, {
      role: { name: "app_owner" },
    });
    appPassword = role.role.password;
    await api("POST", `/projects/${projectId}/branches/${mainBranch}/databases`, {
      database: { name: "app", owner_name: "app_owner" },
    });
  }, 120_000);

  afterAll(async () => {
    await compute?.stop();
    await fake.stop();
  }, 60_000);

  it("env() appends the resolver to NODE_OPTIONS and names the CA", () => {
    const env = compute.env({ NODE_OPTIONS: "--max-old-space-size=512" });
    expect(env.NODE_OPTIONS).toBe(`--max-old-space-size=512 --require ${RESOLVER}`);
    expect(env.MAUNTIC_LOOPBACK_DOMAINS).toBe(".neon.tech");
    expect(env.NODE_EXTRA_CA_CERTS).toBe(compute.caFile);
    expect(compute.env({}).NODE_OPTIONS).toBe(`--require ${RESOLVER}`);
    // Passed on again (a child's env as the base): the preload and the CA stay once.
    expect(compute.env(childEnv)).toEqual(compute.env());
    expect(compute.env(childEnv).NODE_EXTRA_CA_CERTS).toBe(childEnv.NODE_EXTRA_CA_CERTS);
  });

  it("a child connects by the endpoint's Neon host with sslmode=require and runs SQL as the API-made role", async () => {
    expect(host).toMatch(/^ep-[a-z0-9-]+\.us-east-2\.aws\.neon\.tech$/);
    // Lazy: no cluster runs before the first connection to the branch.
    expect(compute.running()).toEqual([]);
    const r = await sql(
      uri("app_owner", appPassword, host, "app"),
      `CREATE TABLE contacts (id int PRIMARY KEY, email text);
       INSERT INTO contacts VALUES (1, 'a@example.com');
       CREATE ROLE worker_login LOGIN PASSWORD 'worker-secret-1';
       SELECT current_user AS usr, current_database() AS db, pg_has_role('neon_superuser', 'MEMBER') AS member,
              (SELECT rolcreaterole AND rolcreatedb AND rolbypassrls FROM pg_roles WHERE rolname = current_user) AS attrs,
              (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app') AS owner,
              (SELECT count(*)::int FROM contacts) AS n`,
    );
    expect(r).toEqual({
      rows: [{ usr: "app_owner", db: "app", member: true, attrs: true, owner: "app_owner", n: 1 }],
    });
    expect(compute.running()).toEqual([`${projectId}/${mainBranch}`]);
  });

  it("the project's own owner role and database from the create call are there too, and the pooler host reaches them", async () => {
    const state = fake.branchState(projectId, mainBranch)!;
    const owner = state.roles.find((r) => r.name === "neondb_owner")!;
    const pooler = host.replace(/^([^.]+)/, "$1-pooler");
    const r = await sql(uri(owner.name, owner.password, pooler, "neondb"), "SELECT current_user AS usr");
    expect(r).toEqual({ rows: [{ usr: "neondb_owner" }] });
  });

  it("refuses a wrong password", async () => {
    const wrong = await sql(uri("app_owner", `${appPassword}x`, host, "app"), "SELECT 1");
    expect(wrong.error).toBe('password authentication failed for user "app_owner"');
  });

  it("verifies the certificate: without the CA the connection fails", async () => {
    const { NODE_EXTRA_CA_CERTS: _ca, ...noCa } = childEnv;
    const r = await sql(uri("app_owner", appPassword, host, "app"), "SELECT 1", noCa);
    // The proxy sends its certificate without the CA: a client that does not trust the CA cannot verify it.
    expect(r.error).toBe("unable to verify the first certificate");
  });

  it("refuses an endpoint id the control plane does not know, with Neon's proxy error", async () => {
    const r = await sql(uri("app_owner", appPassword, "ep-no-such-000000.us-east-2.aws.neon.tech", "app"), "SELECT 1");
    expect(r.error).toBe(NEON_PROXY_ERRORS.endpointNotFound);
  });

  it("refuses a connection without TLS, and one without a server name, as Neon's proxy does", async () => {
    const plain = await sql(
      uri("app_owner", appPassword, host, "app").replace("sslmode=require", "sslmode=disable"),
      "SELECT 1",
    );
    expect(plain.error).toBe(NEON_PROXY_ERRORS.insecure);
    // By IP address node-postgres sends no SNI (an IP is not a legal server name), so no endpoint id reaches the proxy.
    const byIp = await sql(
      `postgresql://app_owner:${encodeURIComponent(appPassword)}@127.0.0.1:${compute.port}/app?sslmode=no-verify`,
      "SELECT 1",
    );
    expect(byIp.error).toBe(NEON_PROXY_ERRORS.noEndpointId);
  });

  it("a port in use: startNeonCompute rejects and leaves no temp dir behind", async () => {
    const taken = http.createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    // A temp folder of this call's own (other suites make theirs in parallel): os.tmpdir() reads TMPDIR on each call.
    const own = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-tmp-"));
    const tmpdir = process.env.TMPDIR;
    process.env.TMPDIR = own;
    try {
      await expect(startNeonCompute(fake, { port: (taken.address() as AddressInfo).port })).rejects.toThrow(
        /EADDRINUSE/,
      );
      expect(fs.readdirSync(own)).toEqual([]);
    } finally {
      if (tmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdir;
      fs.rmSync(own, { recursive: true, force: true });
      taken.close();
    }
  });

  it("a branch from the parent has the parent's roles (API and SQL-made, same passwords), databases and data", async () => {
    const b = await api("POST", `/projects/${projectId}/branches`, {
      branch: { name: "pr-42", parent_id: mainBranch },
    });
    const branchId: string = b.branch.id;
    const ep = await api("POST", `/projects/${projectId}/endpoints`, {
      endpoint: { branch_id: branchId, type: "read_write" },
    });
    const branchHost: string = ep.endpoint.host;
    // A write on the parent after the branch was made stays on the parent.
    await sql(uri("app_owner", appPassword, host, "app"), "INSERT INTO contacts VALUES (2, 'later@example.com')");
    const r = await sql(
      uri("app_owner", appPassword, branchHost, "app"),
      `SELECT (SELECT count(*)::int FROM contacts) AS n, pg_has_role('neon_superuser', 'MEMBER') AS member,
              (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app') AS owner`,
    );
    expect(r).toEqual({ rows: [{ n: 1, member: true, owner: "app_owner" }] });
    const worker = await sql(uri("worker_login", "worker-secret-1", branchHost, "app"), "SELECT current_user AS usr");
    expect(worker).toEqual({ rows: [{ usr: "worker_login" }] });

    // reset_password on the branch: the branch takes the new one only; the parent keeps its own.
    const reset = await api("POST", `/projects/${projectId}/branches/${branchId}/roles/app_owner/reset_password`);
    const newPassword: string = reset.role.password;
    expect(newPassword).not.toBe(appPassword);
    expect((await sql(uri("app_owner", appPassword, branchHost, "app"), "SELECT 1 AS one")).error).toBe(
      'password authentication failed for user "app_owner"',
    );
    expect(await sql(uri("app_owner", newPassword, branchHost, "app"), "SELECT 1 AS one")).toEqual({
      rows: [{ one: 1 }],
    });
    expect(await sql(uri("app_owner", appPassword, host, "app"), "SELECT 1 AS one")).toEqual({ rows: [{ one: 1 }] });

    // A renamed database answers under its new name only.
    await api("PATCH", `/projects/${projectId}/branches/${branchId}/databases/app`, { database: { name: "app2" } });
    expect(await sql(uri("app_owner", newPassword, branchHost, "app2"), "SELECT current_database() AS db")).toEqual({
      rows: [{ db: "app2" }],
    });
    expect((await sql(uri("app_owner", newPassword, branchHost, "app"), "SELECT 1")).error).toBe(
      'database "app" does not exist',
    );

    // Deleting the endpoint refuses its host; deleting the branch stops its cluster.
    await api("DELETE", `/projects/${projectId}/endpoints/${ep.endpoint.id}`);
    expect((await sql(uri("app_owner", newPassword, branchHost, "app2"), "SELECT 1")).error).toBe(
      NEON_PROXY_ERRORS.endpointNotFound,
    );
    await api("DELETE", `/projects/${projectId}/branches/${branchId}`);
    await compute.settled();
    expect(compute.running()).toEqual([`${projectId}/${mainBranch}`]);
    expect(compute.errors).toEqual([]);
  }, 120_000);

  it("a role made through the API on a running branch can log in at once", async () => {
    const role = await api("POST", `/projects/${projectId}/branches/${mainBranch}/roles`, {
      role: { name: "late_role" },
    });
    const r = await sql(
      uri("late_role", role.role.password, host, "app"),
      "SELECT pg_has_role('neon_superuser', 'MEMBER') AS member",
    );
    expect(r).toEqual({ rows: [{ member: true }] });
    await api("DELETE", `/projects/${projectId}/branches/${mainBranch}/roles/late_role`);
    expect((await sql(uri("late_role", role.role.password, host, "app"), "SELECT 1")).error).toBe(
      'password authentication failed for user "late_role"',
    );
  });

  it("the project's migration runner connects to the Neon URI from a child process (migrate --status)", async () => {
    const url = uri("app_owner", appPassword, host, "app");
    const ran = await new Promise<Ran>((resolve) =>
      execFile(
        path.join(ROOT, "node_modules", ".bin", "tsx"),
        ["infra/cli/main.ts", "migrate", "--database-url", url, "--status"],
        { cwd: ROOT, env: childEnv, timeout: 200_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    // node-postgres warns on stderr that sslmode=require means verify-full; nothing else may be there.
    const warning = /\(node:\d+\) Warning: SECURITY WARNING: The SSL modes[\s\S]*?--trace-warnings[^\n]*\n?/;
    expect(ran.stderr.replace(warning, "").trim()).toBe("");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/^migrations on /);
    expect(ran.stdout).toMatch(/0001\s+contact_activity_org_contact\s+pending/);
  }, 240_000);
});

describe("Neon compute, eager", () => {
  it("starts a branch's cluster when the control plane makes the branch, before any connection", async () => {
    const fake = new FakeNeon();
    await fake.start();
    const compute = await startNeonCompute(fake, { port: 0, eager: true });
    try {
      const req = (method: string, p: string, body: unknown) => {
        fake.advance(1000);
        return new Promise<Record<string, any>>((resolve, reject) => {
          const r = http.request(
            `${fake.baseUrl}${p}`,
            {
              method,
              agent: false,
              headers: { authorization: `Bearer ${fake.apiKey}`, "content-type": "application/json" },
            },
            (res) => {
              let text = "";
              res.on("data", (c: Buffer) => (text += c.toString()));
              res.on("end", () => ((res.statusCode ?? 0) < 300 ? resolve(JSON.parse(text)) : reject(new Error(text))));
            },
          );
          r.on("error", reject);
          r.end(JSON.stringify(body));
        });
      };
      const created = await req("POST", "/projects", { project: { name: "eager" } });
      await compute.settled();
      expect(compute.running()).toEqual([`${created.project.id}/${created.branch.id}`]);
      const b = await req("POST", `/projects/${created.project.id}/branches`, {
        branch: { parent_id: created.branch.id },
      });
      await compute.settled();
      expect(compute.running()).toEqual([
        `${created.project.id}/${created.branch.id}`,
        `${created.project.id}/${b.branch.id}`,
      ]);
      // The admin URL reaches the branch's cluster as its superuser, for assertions on what the compute holds.
      const admin = new Client({ connectionString: await compute.adminUrl(created.project.id, b.branch.id) });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          "SELECT rolname FROM pg_roles WHERE rolname IN ('neon_superuser', 'neondb_owner') ORDER BY 1",
        );
        expect(rows.map((r) => r.rolname)).toEqual(["neon_superuser", "neondb_owner"]);
      } finally {
        await admin.end();
      }
      expect(compute.errors).toEqual([]);
    } finally {
      await compute.stop();
      await fake.stop();
    }
  }, 120_000);
});
