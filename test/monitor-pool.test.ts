/**
 * `monitor`'s pool utilization on real connections: embedded PostgreSQL 17 with Neon's role model
 * (migrations/neon-emulation.ts), the crm worker's login role made by the LoginRole provider as the deploy makes it,
 * real connections opened as that role, and the CLI run as a user runs it. The crm worker may open 100 connections
 * here (Hyperdrive 90 + its Fly pool 1 x 10, through the pooler, whose pool at 0.5 CU is 188): 80 of them is exactly
 * the notes' 80 % and stays quiet; 81 is a finding and exits 1.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import * as YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackConfigFromFile, stackFilePath } from "../infra/config/load";
import { CONFIG_NAMESPACE, type StackConfig } from "../infra/config/schema";
import { poolCapacities, poolSignal } from "../infra/monitor/pool";
import { migratorRoleName } from "../infra/neon/roles";
import { cloudName } from "../infra/naming";
import { usePostgres } from "../migrations/embedded";
import { neonDatabase, urlAs } from "../migrations/neon-emulation";
import { runCli } from "./helpers/cli";

const pg = usePostgres({ beforeAll, afterAll });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-monitor-pool-"));
const opened: Client[] = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const CRM = cloudName("dev", "pgRole", "crm");
const ns = (k: string) => `${CONFIG_NAMESPACE}:${k}`;

/** dev's committed file with crm's capacity at 100: Hyperdrive 90 + crm-import's one machine (pool 10), 0.5 CU. */
function configFile(): string {
  const doc = YAML.parse(fs.readFileSync(stackFilePath("dev"), "utf8")) as { config: Record<string, any> };
  doc.config[ns("workers")].crm.database.hyperdrive.originConnectionLimit = 90;
  doc.config[ns("neon")].primary.minCu = 0.5;
  const file = path.join(tmp, "Pulumi.dev.yaml");
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

let file: string;
let migratorUrl: string;
let crmUrl: string;

beforeAll(async () => {
  file = configFile();
  const config = loadStackConfigFromFile("dev", { configFile: file });
  ({ migratorUrl } = await neonDatabase(pg, migratorRoleName("dev", config), { name: "monitor_pool" }));
  const { loginRoleProvider } = await import("../infra/neon/login-role");
  const made = await loginRoleProvider.create!({ admin_uri: migratorUrl, name: CRM, password_version: 1 });
  crmUrl = urlAs(migratorUrl, CRM, (made.outs as { password: string }).password);
}, 60_000);

async function openAsCrm(n: number): Promise<void> {
  const batch = Array.from({ length: n }, () => new Client({ connectionString: crmUrl }));
  opened.push(...batch);
  await Promise.all(batch.map((c) => c.connect()));
}

/** `monitor --json` with only the database configured (no credentials, no Pulumi CLI). */
async function monitor(json = true) {
  return runCli(["monitor", "--stack", "dev", "--config-file", file, ...(json ? ["--json"] : [])], {
    env: {
      MONITOR_DATABASE_URL: migratorUrl,
      MONITOR_REPLICA_DATABASE_URL: "",
      NEON_API_KEY: "",
      CLOUDFLARE_API_TOKEN: "",
      FLY_API_TOKEN: "",
      REDIS_URL: "",
      MAUNTIC_PULUMI_ROOT: path.join(tmp, "no-pulumi"),
    },
  });
}

describe("pool utilization on real connections", () => {
  it("crm's capacity is the connection budget's: Hyperdrive 90 + Fly 1 x 10 through the pooler = 100", () => {
    const config = loadStackConfigFromFile("dev", { configFile: file });
    const crm = poolCapacities("dev", config).find((c) => c.role === CRM && c.endpoint === "primary")!;
    expect(crm.capacity).toBe(100);
    expect(crm.parts).toBe("Hyperdrive 90 + Fly crm-import 1 x 10, through the pooler: min(100, pool 188 at 0.5 CU)");
  });

  it("80 connections as crm (exactly 80 %) is no finding: exit 0", async () => {
    await openAsCrm(80);
    const r = await monitor();
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      findings: number;
      signals: { signal: string; status: string; figures: any[]; reason?: string }[];
    };
    expect(report.findings).toBe(0);
    const pool = report.signals.find((s) => s.signal === "pool")!;
    const crm = pool.figures.find((f) => f.subject === "crm on the primary");
    expect(crm).toMatchObject({ value: 80, threshold: 80, finding: false, unit: "%" });
    // The migrator (a neon_superuser member, so pg_monitor) sees the state of crm's backends.
    expect(crm.detail).toMatch(
      /^80 of 100 connections of mauntic_dev_crm \(0 active, 0 idle in transaction, 80 idle\)/,
    );
    // Workers with no connection read 0 %, and the replica reader is reported without a replica URL.
    expect(pool.figures.find((f) => f.subject === "journey on the primary")).toMatchObject({
      value: 0,
      finding: false,
    });
    expect(pool.reason).toMatch(/^replica: no URL/);
    // The services without credentials are "not configured", never failures.
    for (const s of report.signals.filter((x) => x.signal !== "pool")) expect(s.status).toBe("not configured");
  }, 60_000);

  it("81 connections (81 %) is a finding: exit 1, crm named in the Markdown report", async () => {
    await openAsCrm(1);
    const r = await monitor(false);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/\*\*1 finding\(s\)\*\*: pool/);
    expect(r.stdout).toMatch(
      /\| ✗ \| crm on the primary \| pool utilization \| 81 % \| ≤ 80 % \| 81 of 100 connections of mauntic_dev_crm/,
    );
    expect(r.stdout).toMatch(/### Hyperdrive latency and failures \(Cloudflare GraphQL Analytics\): not configured/);
  }, 60_000);

  it("the figure is the role's, not the server's: the migrator's own connections do not count for crm", async () => {
    const config = loadStackConfigFromFile("dev", { configFile: file }) as StackConfig;
    const extra = new Client({ connectionString: migratorUrl });
    opened.push(extra);
    await extra.connect();
    const r = await poolSignal("dev", config, { primaryUrl: migratorUrl });
    expect(r.figures.find((f) => f.subject === "crm on the primary")!.value).toBe(81);
    // And a compute of 0.25 CU caps the same clients at its pool of 93 (0.9 x 104): 81 of 93 is past 80 % too.
    const small = { ...config, neon: { ...config.neon, primary: { ...config.neon.primary, minCu: 0.25 as const } } };
    const r2 = await poolSignal("dev", small, { primaryUrl: migratorUrl });
    expect(r2.figures.find((f) => f.subject === "crm on the primary")).toMatchObject({ finding: true });
    expect(r2.figures.find((f) => f.subject === "crm on the primary")!.detail).toMatch(/81 of 93 connections/);
  }, 60_000);
});
