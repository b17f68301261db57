/**
 * What the Neon compute stand-in (test/fakes/neon-compute.ts) costs, for the end-to-end suite's budget: the proxy's
 * start (certificates), the first connection to a branch (initdb once, a cluster start, Neon's roles), a warm
 * connection through the TLS proxy, and a branch of a running parent (a base-backup copy, then its start).
 * Connects in this process by the Neon host names (the loopback resolver loaded here, the CA given to pg).
 * Prints one line per figure: `npx tsx bench/neon-compute.ts`.
 */
import { Client } from "pg";
import { FakeNeon } from "../test/fakes/neon";
import { startNeonCompute } from "../test/fakes/neon-compute";

process.env.MAUNTIC_LOOPBACK_DOMAINS = ".neon.tech";
// eslint-disable-next-line @typescript-eslint/no-require-imports
require("../test/fakes/loopback-resolver.cjs");

const WARM_CONNECTIONS = 20;

async function main(): Promise<void> {
  const fake = new FakeNeon();
  await fake.start();
  const api = async (method: string, p: string, body?: unknown) => {
    fake.advance(1000);
    const res = await fetch(`${fake.baseUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${fake.apiKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, any>;
  };
  const figure = (name: string, ms: number) => console.log(`${name.padEnd(52)} ${(ms / 1000).toFixed(2)} s`);

  let t = Date.now();
  const compute = await startNeonCompute(fake, { port: 0 });
  figure("proxy start (CA + certificate)", Date.now() - t);
  try {
    const created = await api("POST", "/projects", { project: { name: "bench" } });
    const [role] = created.roles as { name: string; password: string }[];
    // In this process the CA goes to pg directly (NODE_EXTRA_CA_CERTS is read at start-up only); a connection
    // string's sslmode would replace this ssl object, so the fields are given one by one.
    const connect = async (host: string, user: string, password: string) => {
      const c = new Client({ host, port: compute.port, user, password, database: "neondb", ssl: { ca: compute.ca } });
      await c.connect();
      return c;
    };
    const query = async (host: string) => {
      const c = await connect(host, role!.name, role!.password);
      await c.query("SELECT 1");
      await c.end();
    };
    const host: string = created.endpoints[0].host;

    t = Date.now();
    await query(host);
    figure("first connection to a branch (cold: initdb, start)", Date.now() - t);

    t = Date.now();
    for (let i = 0; i < WARM_CONNECTIONS; i++) await query(host);
    figure(`warm connection + SELECT 1 (mean of ${WARM_CONNECTIONS})`, (Date.now() - t) / WARM_CONNECTIONS);

    const branch = await api("POST", `/projects/${created.project.id}/branches`, {
      branch: { parent_id: created.branch.id },
    });
    const ep = await api("POST", `/projects/${created.project.id}/endpoints`, {
      endpoint: { branch_id: branch.branch.id, type: "read_write" },
    });
    t = Date.now();
    await query(ep.endpoint.host);
    figure("branch of a running parent to first query", Date.now() - t);

    const second = await api("POST", "/projects", { project: { name: "bench-2" } });
    const [r2] = second.roles as { name: string; password: string }[];
    t = Date.now();
    const c = await connect(second.endpoints[0].host, r2!.name, r2!.password);
    await c.end();
    figure("first connection to another project (template warm)", Date.now() - t);
    if (compute.errors.length) throw new Error(`mirror errors: ${compute.errors.join("; ")}`);
  } finally {
    t = Date.now();
    await compute.stop();
    figure("stop (every cluster, temp dir)", Date.now() - t);
    await fake.stop();
  }
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exitCode = 1;
});
