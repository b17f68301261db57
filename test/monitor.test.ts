/**
 * `monitor`'s other signals against local stand-ins of Cloudflare, Neon and Fly's Prometheus (test/fakes/
 * monitor-services.ts, shaped after the vendors' documented examples) and a real redis-server: each threshold at its
 * limit (quiet) and just past it (a finding), unreachable services named as findings, missing credentials as "not
 * configured", and the monitoring config validated like every other key.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hyperdriveLayout } from "../infra/cloudflare/budget";
import { ConfigError, loadStackConfigFromFile, stackFilePath } from "../infra/config/load";
import { CONFIG_NAMESPACE, type StackConfig } from "../infra/config/schema";
import { HYPERDRIVE_QUERY, hyperdriveGroups, type HyperdriveGroup } from "../infra/monitor/hyperdrive";
import { judgeRedis, parseInfo, redisSignal } from "../infra/monitor/redis";
import { expectedVolumes, volumesSignal } from "../infra/monitor/volumes";
import { renderMarkdown, runMonitor, type MonitorTargets } from "../infra/monitor/run";
import { monitorTargets } from "../infra/monitor/targets";
import { FakeServices, hyperdriveQueryProblem, type FakeState } from "./fakes/monitor-services";
import { runCli } from "./helpers/cli";

const dev = loadStackConfigFromFile("dev");
const ACCOUNT = dev.cloudflare.accountId;
const NOW = new Date("2026-12-07T06:40:00Z");
const layout = hyperdriveLayout("dev", dev);
const idOf = (name: string) => `${layout.findIndex((e) => e.name === name)}`.padStart(32, "0");

const group = (
  count: number,
  queryLatency: number,
  connectionLatency: number,
  cacheStatus: string,
  eventStatus: string,
): HyperdriveGroup => ({
  count,
  avg: { queryLatency, connectionLatency },
  dimensions: { cacheStatus, eventStatus },
});

/** Every figure exactly at its default threshold. */
function atLimits(): FakeState {
  const groups: Record<string, unknown[]> = {};
  for (const e of layout) {
    // 99 completed queries at 500 ms / 1000 ms (the thresholds), 1 failed of 100 (1 %).
    groups[idOf(e.name)] = [
      group(60, 500, 1000, "miss", "complete"),
      group(39, 500, 1000, "hit", "complete"),
      group(1, 0, 0, "miss", "error"),
    ];
  }
  return {
    neonKey: "neon-key",
    cloudflareToken: "cf-token",
    flyToken: "fly-token",
    projects: [
      { id: "p-dev-1", name: "mauntic-dev", org_id: "org-mauntic" },
      // Neon's search matches parts of names: the monitor must take only its own.
      { id: "p-dev-2", name: "mauntic-dev-old", org_id: "org-mauntic" },
    ],
    endpoints: {
      "p-dev-1": [
        { id: "ep-primary-1", name: "mauntic-dev-primary", type: "read_write", min: 0.25, max: 1 },
        { id: "ep-replica-1", name: "mauntic-dev-replica", type: "read_only", min: 0.25, max: 1 },
      ],
    },
    // Busiest hour 1.6 CU on average of the endpoints' 2 CU: exactly 80 %; never at 2 CU.
    cuSeconds: [900, 5760, 3600],
    hyperdrive: layout.map((e) => ({ id: idOf(e.name), name: e.name })),
    groups,
    volumes: [
      { app: "mauntic-dev-redis", id: "vol_dev1", pct: 80 },
      // Another stack's volume: never dev's figure.
      { app: "mauntic-prod-redis", id: "vol_prod1", pct: 99 },
    ],
  };
}

const fake = new FakeServices(atLimits());
let base: string;
beforeAll(async () => {
  base = await fake.start();
});
afterAll(() => fake.stop());

const env = (over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  NEON_API_KEY: "neon-key",
  NEON_API_URL: `${base}/api/v2`,
  CLOUDFLARE_API_TOKEN: "cf-token",
  CLOUDFLARE_BASE_URL: `${base}/client/v4`,
  CLOUDFLARE_GRAPHQL_URL: `${base}/client/v4/graphql`,
  FLY_API_TOKEN: "fly-token",
  FLY_PROMETHEUS_URL: `${base}/prometheus`,
  ...over,
});
const targets = (over: NodeJS.ProcessEnv = {}): Promise<MonitorTargets> => monitorTargets(env(over), undefined, NOW);
const withMonitoring = (m: Partial<StackConfig["monitoring"]>): StackConfig => ({
  ...dev,
  monitoring: { ...dev.monitoring, ...m },
});
const figuresOf = async (config = dev, over: NodeJS.ProcessEnv = {}) => {
  const r = await runMonitor("dev", config, await targets(over), NOW);
  return { r, by: (signal: string) => r.signals.find((s) => s.signal === signal)! };
};

describe("at every limit: quiet", () => {
  it("Hyperdrive, autoscaling and volumes exactly at their thresholds are no finding", async () => {
    const { r, by } = await figuresOf();
    expect(by("hyperdrive").status).toBe("ok");
    expect(by("autoscaling").status).toBe("ok");
    expect(by("volumes").status).toBe("ok");
    expect(by("pool").status).toBe("not configured");
    expect(by("redis").status).toBe("not configured");
    expect(r.findings).toBe(0);

    const crm = by("hyperdrive").figures.filter((f) => f.subject === "mauntic-dev-crm-db");
    expect(crm.map((f) => [f.measure, f.value, f.finding])).toEqual([
      ["query latency (avg)", 500, false],
      ["connection latency (avg)", 1000, false],
      ["failed queries", 1, false],
      // crm caches; identity does not, so it has no cache figure.
      ["cache hit ratio", 39, false],
    ]);
    expect(
      by("hyperdrive")
        .figures.filter((f) => f.subject === "mauntic-dev-identity-db")
        .map((f) => f.measure),
    ).not.toContain("cache hit ratio");
    // One figure set per config of the layout: 5 primaries and analytics' replica.
    expect(new Set(by("hyperdrive").figures.map((f) => f.subject))).toEqual(new Set(layout.map((e) => e.name)));

    expect(by("autoscaling").figures.map((f) => [f.measure, f.value, f.finding])).toEqual([
      ["compute used (busiest hour)", 80, false],
      ["hours at the maximum CU", 0, false],
    ]);
    expect(by("volumes").figures.map((f) => [f.subject, f.value, f.finding])).toEqual([
      ["mauntic-dev-redis", 1, false],
      ["mauntic-dev-redis volume vol_dev1", 80, false],
    ]);
  });

  it("asks each service what its documentation shows", async () => {
    fake.requests.length = 0;
    await figuresOf();
    const gql = fake.requests.filter((q) => q.path === "/client/v4/graphql");
    expect(gql).toHaveLength(layout.length);
    expect(gql[0]!.body).toEqual({
      query: HYPERDRIVE_QUERY,
      variables: {
        accountTag: ACCOUNT,
        configId: idOf(layout[0]!.name),
        datetimeStart: "2026-12-07T06:25:00.000Z",
        datetimeEnd: "2026-12-07T06:40:00.000Z",
      },
    });
    const consumption = fake.requests.find((q) => q.path === "/api/v2/consumption_history/v2/projects")!;
    expect(consumption.query).toEqual({
      project_ids: "p-dev-1",
      from: "2026-12-06T06:00:00.000Z",
      to: "2026-12-07T06:00:00.000Z",
      granularity: "hourly",
      org_id: "org-mauntic",
      metrics: "compute_unit_seconds",
    });
    const prom = fake.requests.find((q) => q.path.startsWith("/prometheus/"))!;
    expect(prom.path).toBe(`/prometheus/${dev.fly.org}/api/v1/query`);
    expect(prom.query.query).toBe('fly_volume_used_pct{app=~"mauntic-dev-.*"}');
    expect(prom.auth).toBe("Bearer fly-token");
  });
});

describe("the Cloudflare stand-in holds to Hyperdrive's documented dataset", () => {
  const vars = {
    accountTag: ACCOUNT,
    configId: "x",
    datetimeStart: "2026-12-07T06:25:00Z",
    datetimeEnd: "2026-12-07T06:40:00Z",
  };
  it("the monitor's query asks only documented fields and filters; anything else is refused", () => {
    expect(hyperdriveQueryProblem(HYPERDRIVE_QUERY, vars)).toBeUndefined();
    expect(
      hyperdriveQueryProblem(HYPERDRIVE_QUERY.replace("queryLatency }", "queryLatency poolUtilization }"), vars),
    ).toBe('unknown field "poolUtilization" of hyperdriveQueriesAdaptiveGroups');
    expect(hyperdriveQueryProblem(HYPERDRIVE_QUERY.replace("configId: $configId", "scriptName: $configId"), vars)).toBe(
      'unknown filter field "scriptName"',
    );
    expect(hyperdriveQueryProblem(HYPERDRIVE_QUERY, { ...vars, accountTag: "" })).toMatch(/accountTag/);
  });

  it("31 days back is answered; a minute more is a GraphQL error in a 200, which the monitor reports", async () => {
    const t = { token: "cf-token", apiUrl: `${base}/client/v4`, graphqlUrl: `${base}/client/v4/graphql`, now: NOW };
    const id = idOf(layout[0]!.name);
    await expect(hyperdriveGroups(t, ACCOUNT, id, 31 * 1440)).resolves.toHaveLength(3);
    await expect(hyperdriveGroups(t, ACCOUNT, id, 31 * 1440 + 1)).rejects.toThrow(
      "Cloudflare GraphQL: cannot request data older than 2678400s",
    );
  });
});

describe("the Neon stand-in holds to Neon's OpenAPI document", () => {
  it("every request the monitor sends and every answer the fake gives", async () => {
    const { NeonSpec } = await import("./fakes/neon-spec");
    const spec = await NeonSpec.load();
    fake.requests.length = 0;
    await figuresOf();
    const neon = fake.requests.filter((q) => q.path.startsWith("/api/v2/"));
    expect(neon.map((q) => q.path)).toEqual([
      "/api/v2/projects",
      "/api/v2/projects/p-dev-1/endpoints",
      "/api/v2/consumption_history/v2/projects",
    ]);
    for (const q of neon) {
      const path = q.path.slice("/api/v2".length);
      const { operationId, problems } = spec.checkRequest({
        method: q.method,
        path,
        query: q.query,
        headers: { authorization: q.auth },
        body: undefined,
      });
      expect(problems, path).toEqual([]);
      expect(spec.checkResponse(operationId!, q.status!, q.response), path).toEqual([]);
    }
  }, 120_000);
});

describe("just past each limit: a finding", () => {
  const cases: {
    name: string;
    mutate: (s: FakeState) => void;
    signal: string;
    measure: string;
    value: number;
    findings?: number;
  }[] = [
    {
      name: "query latency 501 ms",
      mutate: (s) => (s.groups[idOf("mauntic-dev-crm-db")] = [group(100, 501, 10, "miss", "complete")]),
      signal: "hyperdrive",
      measure: "query latency (avg)",
      value: 501,
    },
    {
      name: "connection latency 1001 ms",
      mutate: (s) => (s.groups[idOf("mauntic-dev-crm-db")] = [group(100, 10, 1001, "miss", "complete")]),
      signal: "hyperdrive",
      measure: "connection latency (avg)",
      value: 1001,
    },
    {
      name: "2 failed queries of 100 (pool exhaustion shows here)",
      mutate: (s) =>
        (s.groups[idOf("mauntic-dev-crm-db")] = [
          group(98, 10, 1, "miss", "complete"),
          group(2, 0, 0, "miss", "error"),
        ]),
      signal: "hyperdrive",
      measure: "failed queries",
      value: 2,
    },
    {
      name: "the busiest hour at 1.6005 CU of 2",
      mutate: (s) => (s.cuSeconds = [5761.8]),
      signal: "autoscaling",
      measure: "compute used (busiest hour)",
      value: 80.025,
    },
    {
      name: "one hour entirely at the maximum",
      mutate: (s) => (s.cuSeconds = [0, 7200]),
      signal: "autoscaling",
      measure: "hours at the maximum CU",
      value: 1,
      // That hour's 2 CU is also 100 % of the maximum, past 80 %.
      findings: 2,
    },
    {
      name: "a volume at 80.5 %",
      mutate: (s) => (s.volumes[0]!.pct = 80.5),
      signal: "volumes",
      measure: "volume used",
      value: 80.5,
    },
  ];
  it.each(cases)("$name", async ({ mutate, signal, measure, value, findings = 1 }) => {
    const saved = structuredClone(fake.state);
    mutate(fake.state);
    try {
      const { r, by } = await figuresOf();
      const f = by(signal).figures.find((x) => x.measure === measure && x.finding)!;
      expect(f.value).toBeCloseTo(value, 6);
      expect(by(signal).status).toBe("finding");
      expect(r.findings).toBe(findings);
    } finally {
      Object.assign(fake.state, saved);
    }
  });

  it("a cache hit ratio below a configured minimum (and not at it)", async () => {
    const at = await figuresOf(withMonitoring({ cacheHitRatioMinPct: 39 }));
    expect(at.by("hyperdrive").status).toBe("ok");
    const past = await figuresOf(withMonitoring({ cacheHitRatioMinPct: 39.5 }));
    const findings = past.by("hyperdrive").figures.filter((f) => f.finding);
    // The caching configs: crm, analytics and analytics' replica.
    expect(findings.map((f) => f.subject).sort()).toEqual([
      "mauntic-dev-analytics-db",
      "mauntic-dev-analytics-replica-db",
      "mauntic-dev-crm-db",
    ]);
    expect(findings.every((f) => f.measure === "cache hit ratio" && f.kind === "min")).toBe(true);
  });

  it("no queries in the window: latencies read 'no data', never a finding", async () => {
    const saved = structuredClone(fake.state);
    fake.state.groups = {};
    try {
      const { by } = await figuresOf();
      expect(by("hyperdrive").status).toBe("ok");
      expect(by("hyperdrive").figures.every((f) => f.value === null)).toBe(true);
      expect(renderMarkdown((await figuresOf()).r)).toMatch(
        /\| ✓ \| mauntic-dev-crm-db \| query latency \(avg\) \| no data \|/,
      );
    } finally {
      Object.assign(fake.state, saved);
    }
  });
});

describe("unreachable services are named findings, never a crash", () => {
  const closedPort = async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const { port } = srv.address() as net.AddressInfo;
    await new Promise<void>((r) => srv.close(() => r()));
    return port;
  };

  it("Cloudflare down, Fly refusing the token, Neon refusing the key, Redis not listening: 4 findings", async () => {
    const port = await closedPort();
    const { r, by } = await figuresOf(dev, {
      CLOUDFLARE_BASE_URL: `http://127.0.0.1:${port}/client/v4`,
      FLY_API_TOKEN: "wrong",
      NEON_API_KEY: "wrong",
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect(r.findings).toBe(4);
    expect(by("hyperdrive")).toMatchObject({
      status: "unreachable",
      reason: expect.stringMatching(/^Cloudflare unreachable: /),
    });
    expect(by("volumes")).toMatchObject({
      status: "unreachable",
      reason: "Fly Prometheus unreachable: Fly Prometheus: HTTP 401 unauthorized",
    });
    expect(by("autoscaling")).toMatchObject({
      status: "unreachable",
      reason: expect.stringMatching(
        /^Neon API unreachable: Neon API: list projects named mauntic-dev failed: HTTP 401/,
      ),
    });
    expect(by("redis")).toMatchObject({
      status: "unreachable",
      reason: expect.stringMatching(/^Redis unreachable: .*ECONNREFUSED/),
    });
    // No credential in any message.
    expect(JSON.stringify(r)).not.toMatch(/neon-key|cf-token|fly-token/);
    expect(renderMarkdown(r)).toMatch(/\*\*4 finding\(s\)\*\*: hyperdrive, autoscaling, redis, volumes/);
  });

  it("the CLI exits 1 on an unreachable service and prints the report", async () => {
    const port = await closedPort();
    const res = await runCli(["monitor", "--stack", "dev", "--json"], {
      env: env({
        CLOUDFLARE_GRAPHQL_URL: `http://127.0.0.1:${port}/graphql`,
        MONITOR_DATABASE_URL: `postgres://nobody:x@127.0.0.1:${port}/mauntic`,
        REDIS_URL: "",
        MAUNTIC_PULUMI_ROOT: path.join(os.tmpdir(), "mauntic-no-pulumi"),
      }),
    });
    expect(res.code, res.stderr).toBe(1);
    const report = JSON.parse(res.stdout) as {
      findings: number;
      signals: { signal: string; status: string; reason?: string }[];
    };
    expect(report.signals.map((s) => [s.signal, s.status])).toEqual([
      ["pool", "unreachable"],
      ["hyperdrive", "unreachable"],
      ["autoscaling", "ok"],
      ["redis", "not configured"],
      ["volumes", "ok"],
    ]);
    expect(report.findings).toBe(2);
    expect(report.signals[0]!.reason).toMatch(/^PostgreSQL unreachable: .*ECONNREFUSED/);
  }, 60_000);
});

describe("prod's volumes: 3 Redis data nodes and 3 Sentinels", () => {
  const prod = loadStackConfigFromFile("prod");
  const prodVolumes = () => [
    ...["vol_data0", "vol_data1", "vol_data2"].map((id) => ({ app: "mauntic-prod-redis", id, pct: 40 })),
    ...["vol_sent0", "vol_sent1", "vol_sent2"].map((id) => ({ app: "mauntic-prod-redis", id, pct: 1 })),
    { app: "mauntic-dev-redis", id: "vol_dev1", pct: 99 },
  ];
  const volumesOf = async (volumes: FakeState["volumes"]) => {
    const saved = fake.state.volumes;
    fake.state.volumes = volumes;
    try {
      return await volumesSignal("prod", prod, { token: "fly-token", prometheusUrl: `${base}/prometheus` });
    } finally {
      fake.state.volumes = saved;
    }
  };

  it("every one of the 6 reports: quiet; a Sentinel's volume at 80.5 % is a finding like a data node's", async () => {
    expect(prod.fly.redis.replicas).toBe(2);
    expect(expectedVolumes(prod)).toBe(6);
    const r = await volumesOf(prodVolumes());
    expect(r.status).toBe("ok");
    expect(r.figures[0]).toMatchObject({ measure: "volumes reporting", value: 6, threshold: 6, finding: false });
    expect(r.figures[0]!.detail).toBe("6 of 6 (3 Redis data, 3 Sentinel)");
    expect(r.figures).toHaveLength(7);
    const full = prodVolumes();
    full[4]!.pct = 80.5;
    expect((await volumesOf(full)).figures.filter((f) => f.finding).map((f) => f.subject)).toEqual([
      "mauntic-prod-redis volume vol_sent1",
    ]);
  });

  it("5 of 6 reporting (a volume gone, or its machine not running) is a finding", async () => {
    const r = await volumesOf(prodVolumes().filter((v) => v.id !== "vol_data2"));
    expect(r.status).toBe("finding");
    expect(r.figures[0]).toMatchObject({ value: 5, threshold: 6, finding: true });
  });
});

describe("Redis memory against maxmemory", () => {
  const info = (used: number, max: number) =>
    parseInfo(
      `# Memory\r\nused_memory:${used}\r\nused_memory_human:1M\r\nmaxmemory:${max}\r\nmaxmemory_policy:noeviction\r\n`,
    );
  it("80 % is quiet, 80.01 % a finding; no maxmemory at all is a finding", () => {
    expect(judgeRedis(dev, info(80, 100)).figures[0]).toMatchObject({ value: 80, finding: false });
    expect(judgeRedis(dev, info(8001, 10000)).figures[0]).toMatchObject({ value: 80.01, finding: true });
    expect(judgeRedis(dev, info(5, 0)).figures[0]).toMatchObject({ value: 100, finding: true });
    expect(judgeRedis(dev, info(80, 100)).figures[0]!.detail).toBe(
      "used_memory 80 B of maxmemory 100 B (the stack sets 307 MB), maxmemory_policy noeviction",
    );
  });

  let server: ChildProcess | undefined;
  let port = 0;
  const hasRedis = fs.existsSync("/usr/bin/redis-server");
  beforeAll(async () => {
    if (!hasRedis) return;
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    server = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory",
        "4mb",
        "--maxmemory-policy",
        "noeviction",
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 50; i++) {
      const up = await new Promise<boolean>((r) =>
        net
          .connect(port, "127.0.0.1")
          .on("connect", function (this: net.Socket) {
            this.destroy();
            r(true);
          })
          .on("error", () => r(false)),
      );
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(() => void server?.kill());

  it("reads a real redis-server's INFO memory", async (ctx) => {
    if (!hasRedis) {
      console.warn("skipped: no redis-server (apt-get install redis-server)");
      ctx.skip();
    }
    const r = await redisSignal(withMonitoring({ redisMemoryPct: 1 }), { nodes: [`redis://127.0.0.1:${port}`] });
    const f = r.figures[0]!;
    expect(f.detail).toMatch(/^used_memory \d+ B of maxmemory 4194304 B .* maxmemory_policy noeviction$/);
    // An idle redis-server uses about 1 MB: well past 1 % of 4 MB.
    expect(f.value).toBeGreaterThan(1);
    expect(r.status).toBe("finding");
  });
});

describe("the monitoring config", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-monitor-config-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const load = (monitoring: unknown) => {
    const doc = YAML.parse(fs.readFileSync(stackFilePath("dev"), "utf8")) as { config: Record<string, unknown> };
    doc.config[`${CONFIG_NAMESPACE}:monitoring`] = monitoring;
    const file = path.join(tmp, "Pulumi.dev.yaml");
    fs.writeFileSync(file, YAML.stringify(doc));
    return loadStackConfigFromFile("dev", { configFile: file });
  };
  const problems = (monitoring: unknown) => {
    try {
      load(monitoring);
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
  };

  it("defaults to the notes' 80 % when the section is left out, and keeps what a stack sets", () => {
    expect(dev.monitoring).toEqual({
      windowMinutes: 15,
      poolUtilizationPct: 80,
      queryLatencyMs: 500,
      connectionLatencyMs: 1000,
      failedQueriesPct: 1,
      cacheHitRatioMinPct: 0,
      computeUtilizationPct: 80,
      hoursAtMaxCu: 0,
      autoscalingWindowHours: 24,
      redisMemoryPct: 80,
      volumeUsedPct: 80,
    });
    expect(load({ poolUtilizationPct: 70 }).monitoring).toMatchObject({ poolUtilizationPct: 70, queryLatencyMs: 500 });
  });

  it("refuses bad values naming the YAML path and what is allowed", () => {
    expect(problems({ poolUtilizationPct: 101 })).toEqual([
      expect.stringMatching(/^config\.mauntic-infra:monitoring\.poolUtilizationPct: .*100/),
    ]);
    expect(problems({ windowMinutes: 2 })).toEqual([
      expect.stringMatching(/^config\.mauntic-infra:monitoring\.windowMinutes: /),
    ]);
    expect(problems({ poolUtilisationPct: 80 })).toEqual([
      expect.stringMatching(/^config\.mauntic-infra:monitoring\.poolUtilisationPct: unknown key/),
    ]);
    expect(problems({ poolUtilizationPct: 100, autoscalingWindowHours: 168 })).toEqual([]);
  });
});
