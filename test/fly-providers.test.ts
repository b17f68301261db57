/**
 * The Fly dynamic providers against the local fake Machines API (every request and answer checked against our model
 * of Fly's Machines API contract, test/fakes/fly-contract.ts), driven as the Pulumi engine drives them (test/helpers/engine-lifecycle.ts): preview with
 * unknowns, create, a second up that changes nothing, updates rolled one machine at a time, replacement, refresh
 * after an outside delete, destroy; and every injected fault. Each test asserts the fake's final state: nothing
 * duplicated, nothing leaked, no request the spec rejects.
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  configureFlyClient,
  createFlyClient,
  flyClient,
  isFlyApiError,
  setConfiguredFlyToken,
} from "../infra/fly/client";
import { HA_VOLUME_PLACEMENT, queueWorkerMachineConfig, redisMachineConfig } from "../infra/fly/component";
import {
  appProvider,
  machineProvider,
  secretsProvider,
  volumeProvider,
  type AppInputs,
  type MachineInputs,
  type SecretsInputs,
  type VolumeInputs,
} from "../infra/fly/providers";
import { flyType } from "../infra/fly/resources";
import type { StackConfig } from "../infra/config/schema";
import { FakeFly } from "./fakes/fly";
import { EngineLifecycle, UNKNOWN } from "./helpers/engine-lifecycle";
import { until } from "./helpers/until";

const TOKEN = "fm2_lJPECAAAAAAAA-test-token-7c1e";
const ORG = "mauntic";
const REGION = "iad";
let fake: FakeFly;
let baseUrl: string;

/** Fast clocks: a fake Fly second is 100 ms, so one /wait call lasts 100 ms before its 408. */
const FAST = {
  requestTimeoutMs: 500,
  retryBudgetMs: 5_000,
  backoffBaseMs: 5,
  backoffMaxMs: 40,
  ratePerSecond: 1_000,
  burst: 1_000,
  stateTimeoutMs: 5_000,
  waitSeconds: 1,
  pollMs: 10,
  leaseWaitMs: 3_000,
  leaseRefreshMs: 200,
  healthTimeoutMs: 3_000,
  visibilityTimeoutMs: 2_000,
};

beforeEach(async () => {
  fake = new FakeFly({ token: TOKEN, startMs: 30, stopMs: 20, secondMs: 100 });
  baseUrl = await fake.start();
  configureFlyClient({ baseUrl, token: TOKEN, ...FAST });
});

afterEach(async () => {
  configureFlyClient(undefined);
  setConfiguredFlyToken(undefined);
  expect(fake.violations).toEqual([]);
  await fake.stop();
});

const REDIS = { image: "redis:7.4-alpine", vmSize: "shared-cpu-1x", memoryMb: 512, volumeSizeGb: 5 } as const;
const WORKER: StackConfig["fly"]["queueWorkers"][string] = {
  image: "registry.fly.io/mauntic-workers:2026.11.3",
  command: ["node", "dist/workers/delivery-sender.js"],
  queues: ["delivery.email", "delivery.sms"],
  count: 3,
  vmSize: "shared-cpu-1x",
  memoryMb: 512,
  concurrency: 20,
  stopSignal: "SIGTERM",
  stopTimeoutSeconds: 60,
  longestJobSeconds: 30,
  databaseRole: "delivery",
};

const appInputs = (name = "mauntic-dev-redis"): AppInputs => ({ name, org_slug: ORG });
const volumeInputs = (app = "mauntic-dev-redis", over: Partial<VolumeInputs> = {}): VolumeInputs => ({
  app_name: app,
  name: "redis_data",
  region: REGION,
  size_gb: 5,
  encrypted: true,
  snapshot_retention: 7,
  ...over,
});

function lifecycle<I extends Record<string, unknown>>(kind: "App" | "Volume" | "Machine" | "Secrets", name: string) {
  const provider = { App: appProvider, Volume: volumeProvider, Machine: machineProvider, Secrets: secretsProvider }[
    kind
  ];
  const outputs = {
    App: ["app_id"],
    Volume: ["volume_id"],
    Machine: ["machine_id", "version", "private_ip"],
    Secrets: ["version"],
  }[kind];
  return new EngineLifecycle<I>(provider, { name, type: flyType(kind), outputs });
}

/** The Redis app as the component declares it, through the engine: app, secrets, volume, machine. */
async function upRedis() {
  const app = lifecycle<AppInputs>("App", "redis-app");
  await app.up(appInputs());
  const secrets = lifecycle<SecretsInputs>("Secrets", "redis-secrets");
  const s = await secrets.up({ app_name: "mauntic-dev-redis", values: {}, generate: ["REDIS_PASSWORD"] });
  const volume = lifecycle<VolumeInputs>("Volume", "redis-volume");
  const v = await volume.up(volumeInputs());
  const machine = lifecycle<MachineInputs>("Machine", "redis-machine");
  const machineInputs = (): MachineInputs => ({
    app_name: "mauntic-dev-redis",
    name: "mauntic-dev-redis-0",
    region: REGION,
    config: redisMachineConfig(REDIS, String(v.outs.volume_id), "dev"),
    min_secrets_version: Number(s.outs.version),
  });
  const m = await machine.up(machineInputs() as never);
  return { app, secrets, volume, machine, machineInputs, s, v, m };
}

const only = <T>(xs: T[]): T => {
  expect(xs).toHaveLength(1);
  return xs[0]!;
};

describe("the Redis app through the engine's lifecycle", () => {
  test("preview with unknowns, create, a second up changes nothing (after refresh too), destroy leaves nothing", async () => {
    // Preview before anything exists: the volume id the machine mounts is unknown; nothing is written.
    const previewMachine = lifecycle<MachineInputs>("Machine", "redis-machine");
    const pv = await previewMachine.preview({
      app_name: "mauntic-dev-redis",
      name: "mauntic-dev-redis-0",
      region: REGION,
      config: redisMachineConfig(REDIS, UNKNOWN, "dev"),
      min_secrets_version: UNKNOWN as never,
    } as never);
    expect(pv.op).toBe("create");
    expect(fake.requests).toHaveLength(0);

    const r = await upRedis();
    const [app] = fake.snapshot();
    expect(app).toMatchObject({ name: "mauntic-dev-redis", org: ORG, secrets: ["REDIS_PASSWORD"] });
    const vol = only(app!.volumes);
    const m = only(app!.machines);
    expect(m).toMatchObject({ name: "mauntic-dev-redis-0", state: "started", secretsVersion: 1 });
    expect(vol.attached_machine_id).toBe(m.id);
    // The password exists in Fly's secrets and in the (secret) state, never in the machine's config.
    const password = fake.secretValue("mauntic-dev-redis", "REDIS_PASSWORD")!;
    expect(password).toMatch(/^[0-9a-f]{40}$/);
    expect((r.s.outs.values as Record<string, string>).REDIS_PASSWORD).toBe(password);
    expect(JSON.stringify(m.config)).not.toContain(password);
    expect(m.config).toMatchObject({ mounts: [{ volume: vol.id, path: "/data" }], restart: { policy: "always" } });
    expect(m.config.services).toBeUndefined();

    // A second up: Fly filled in defaults (restart, init, metadata, guest.max_memory_mb, mount names); nothing changes.
    const writes = () => fake.requests.filter((q) => q.method !== "GET").length;
    const before = writes();
    expect((await r.app.up(appInputs())).op).toBe("same");
    expect((await r.secrets.up({ app_name: "mauntic-dev-redis", values: {}, generate: ["REDIS_PASSWORD"] })).op).toBe(
      "same",
    );
    expect((await r.volume.up(volumeInputs())).op).toBe("same");
    expect((await r.machine.up(r.machineInputs() as never)).op).toBe("same");
    expect(writes()).toBe(before);
    // ... and after a refresh, which reads Fly's view back.
    for (const l of [r.app, r.secrets, r.volume, r.machine]) expect(await l.refresh()).toEqual({ gone: false });
    expect((await r.machine.up(r.machineInputs() as never)).op).toBe("same");
    expect((await r.secrets.up({ app_name: "mauntic-dev-redis", values: {}, generate: ["REDIS_PASSWORD"] })).op).toBe(
      "same",
    );
    expect(fake.secretValue("mauntic-dev-redis", "REDIS_PASSWORD")).toBe(password);

    // A preview whose secrets version is not known yet (the secrets are changing): an update of the machine, in place.
    const pu = await r.machine.preview({ ...r.machineInputs(), min_secrets_version: UNKNOWN } as never);
    expect(pu.op).toBe("update");
    expect(pu.diff?.replaces).toEqual([]);
    // The volume being updated (it grows): its id is an output, unknown to the machine in that preview. An unknown
    // mount is decided at update time, never a planned replacement of the machine (or its app's name).
    const pm = await r.machine.preview({
      ...r.machineInputs(),
      app_name: UNKNOWN,
      config: redisMachineConfig(REDIS, UNKNOWN, "dev"),
    } as never);
    expect(pm.op).toBe("update");
    expect(pm.diff?.replaces).toEqual([]);

    // Destroy in dependency order: machine (stopped gracefully first), volume, secrets, app.
    await r.machine.destroy();
    expect(fake.calls("POST", /\/machines\/[^/]+\/stop$/)).toHaveLength(1);
    await r.volume.destroy();
    await r.secrets.destroy();
    await r.app.destroy();
    expect(fake.snapshot()).toEqual([]);
  });

  test("a volume that grows is extended in place; one that shrinks is refused before anything is written", async () => {
    const r = await upRedis();
    const grown = await r.volume.up(volumeInputs(undefined, { size_gb: 10 }));
    expect(grown.op).toBe("update");
    expect(only(only(fake.snapshot()).volumes)).toMatchObject({ size_gb: 10, id: r.v.id });
    await expect(r.volume.up(volumeInputs(undefined, { size_gb: 3 }))).rejects.toThrow(
      /size_gb: 3 GB is smaller than the current 10 GB \(allowed: >= 10; Fly volumes only grow\)/,
    );
    expect(only(only(fake.snapshot()).volumes).size_gb).toBe(10);
  });

  test("refresh after the machine was destroyed outside Pulumi drops it; the next up creates one again", async () => {
    const r = await upRedis();
    fake.destroyOutside("mauntic-dev-redis", r.m.id);
    expect(await r.machine.refresh()).toEqual({ gone: true });
    expect(r.machine.state).toBeUndefined();
    const again = await r.machine.up(r.machineInputs() as never);
    expect(again.op).toBe("create");
    const m = only(only(fake.snapshot()).machines);
    expect(m.id).toBe(again.id);
    expect(only(only(fake.snapshot()).volumes).attached_machine_id).toBe(m.id);
  });

  test("a region change replaces the machine, freeing its name first (names are unique in an app)", async () => {
    const r = await upRedis();
    const moved = { ...r.machineInputs(), region: "ord" };
    // The volume lives in iad: give the new machine no mount (a region move needs a volume there too).
    moved.config = { ...moved.config, mounts: [] };
    const up = await r.machine.up(moved as never);
    expect(up.op).toBe("replace");
    expect(up.diff?.deleteBeforeReplace).toBe(true);
    expect(r.machine.calls.slice(-2)).toEqual(["delete", "create"]);
    expect(only(only(fake.snapshot()).machines)).toMatchObject({ region: "ord", name: "mauntic-dev-redis-0" });
  });
});

test("an app moving to another organization is deleted before its replacement takes the (global) name", async () => {
  const app = lifecycle<AppInputs>("App", "redis-app");
  await app.up(appInputs());
  const moved = await app.up({ ...appInputs(), org_slug: "mauntic-eu" });
  expect(moved.op).toBe("replace");
  expect(app.calls.slice(-2)).toEqual(["delete", "create"]);
  expect(fake.snapshot().map((a) => [a.name, a.org])).toEqual([["mauntic-dev-redis", "mauntic-eu"]]);
});

describe("check in a preview of a create, as the real engine sends it", () => {
  // An input object holding a value not known yet (a Neon password, a Redis host) arrives as one unknown placeholder.
  test("secrets whose values are one unknown pass, and are checked once known", async () => {
    const app = "mauntic-dev-delivery-sender";
    expect((await secretsProvider.check!({} as never, { app_name: app, values: UNKNOWN } as never)).failures).toEqual(
      [],
    );
    expect(
      (await secretsProvider.check!({} as never, { app_name: app, values: { "bad-name": "x" } })).failures,
    ).toEqual([{ property: "values.bad-name", reason: "(allowed: an env var name, A-Z 0-9 _)" }]);
    expect((await secretsProvider.check!({} as never, { app_name: app, values: {} })).failures).toEqual([
      { property: "values", reason: "is empty (allowed: at least one secret)" },
    ]);
  });

  test("a machine whose config is one unknown passes, and a known config without an image does not", async () => {
    const base = { app_name: "mauntic-dev-redis", name: "mauntic-dev-redis-0", region: REGION };
    expect((await machineProvider.check!({} as never, { ...base, config: UNKNOWN } as never)).failures).toEqual([]);
    expect((await machineProvider.check!({} as never, { ...base, config: {} } as never)).failures).toEqual([
      { property: "config.image", reason: "is required" },
    ]);
  });
});

describe("queue workers: secrets and machines rolled one at a time", () => {
  const APP = "mauntic-dev-delivery-sender";
  async function upWorkers(count = 3) {
    await lifecycle<AppInputs>("App", "w-app").up(appInputs(APP));
    const secrets = lifecycle<SecretsInputs>("Secrets", "w-secrets");
    const values = {
      REDIS_URL: "redis://default:x@mauntic-dev-redis.internal:6379/0?family=6",
      DATABASE_URL: "postgresql://a:b@h/db",
    };
    const s = await secrets.up({ app_name: APP, values });
    const machines = Array.from({ length: count }, (_, i) => lifecycle<MachineInputs>("Machine", `w-${i}`));
    const inputs = (i: number, version: number, image: string = WORKER.image): MachineInputs => ({
      app_name: APP,
      name: `${APP}-${i}`,
      region: REGION,
      config: queueWorkerMachineConfig("dev", "delivery-sender", { ...WORKER, image }),
      min_secrets_version: version,
    });
    // The component chains them (dependsOn the previous one): the engine runs them in order.
    for (const [i, l] of machines.entries()) await l.up(inputs(i, Number(s.outs.version)) as never);
    return { secrets, machines, inputs, values, version: Number(s.outs.version) };
  }

  test("a new image rolls machine by machine, each started before the next begins, despite a held lease", async () => {
    const w = await upWorkers();
    expect(only(fake.snapshot()).machines.map((m) => m.state)).toEqual(["started", "started", "started"]);
    // Another deploy holds machine 1's lease when we come to it: 409s until it expires, then our update goes through.
    fake.inject({ method: "POST", path: /\/machines\/[^/]+\/lease$/, fault: { kind: "foreignLease", ms: 150 } });
    for (const [i, l] of w.machines.entries()) {
      expect((await l.up(w.inputs(i, w.version, "registry.fly.io/mauntic-workers:2026.12.0") as never)).op).toBe(
        "update",
      );
    }
    const ms = only(fake.snapshot()).machines;
    expect(ms.map((m) => [m.state, (m.config as { image: string }).image, m.leased])).toEqual(
      Array(3).fill(["started", "registry.fly.io/mauntic-workers:2026.12.0", false]),
    );
    expect(fake.maxUpdatingAtOnce.get(APP)).toBe(1);
    expect(fake.requests.some((q) => q.status === 409 && /\/lease$/.test(q.path))).toBe(true);
    // stop_config: the configured signal, a timeout covering the longest job (Fly's default would be SIGINT, 5 s).
    expect(ms[0]!.config).toMatchObject({
      // Fly echoes Go durations (fly-go duration.go): the "60s" sent reads back "1m0s".
      stop_config: { signal: "SIGTERM", timeout: "1m0s" },
      init: { cmd: WORKER.command },
    });
  });

  test("a changed secret bumps Fly's secrets version and every machine is updated to see it", async () => {
    const w = await upWorkers(2);
    const s = await w.secrets.up({ app_name: APP, values: { ...w.values, DATABASE_URL: "postgresql://a:c@h/db" } });
    expect(s.op).toBe("update");
    const version = Number(s.outs.version);
    expect(version).toBeGreaterThan(w.version);
    for (const [i, l] of w.machines.entries()) expect((await l.up(w.inputs(i, version) as never)).op).toBe("update");
    expect(only(fake.snapshot()).machines.map((m) => m.secretsVersion)).toEqual([version, version]);
    expect(fake.secretValue(APP, "DATABASE_URL")).toBe("postgresql://a:c@h/db");
    // A secret dropped from the config is unset at Fly.
    await w.secrets.up({ app_name: APP, values: { REDIS_URL: w.values.REDIS_URL } });
    expect(only(fake.snapshot()).secrets).toEqual(["REDIS_URL"]);
  });
});

describe("faults", () => {
  test("429 with Retry-After and 5xx on creates and reads are retried; nothing doubles", async () => {
    fake.inject({ method: "POST", path: /^\/apps$/, fault: { kind: "status", status: 429, retryAfterSeconds: 0 } });
    fake.inject({ method: "GET", path: /^\/apps\/[^/]+$/, fault: { kind: "status", status: 502 } });
    fake.inject({ method: "POST", path: /\/volumes$/, fault: { kind: "status", status: 500 } });
    fake.inject({ method: "GET", path: /\/wait$/, fault: { kind: "status", status: 503 } });
    fake.inject({ method: "GET", path: /\/machines$/, fault: { kind: "drop" } });
    await upRedis();
    const [app] = fake.snapshot();
    expect(app!.volumes).toHaveLength(1);
    expect(app!.machines).toHaveLength(1);
    expect(
      fake.requests.filter((q) => q.status === 429 || (typeof q.status === "number" && q.status >= 500)),
    ).toHaveLength(4);
    expect(fake.requests.filter((q) => q.status === "dropped")).toHaveLength(1);
  });

  test("an app create whose answer is lost is retried with the same idempotency key: one app", async () => {
    fake.inject({ method: "POST", path: /^\/apps$/, fault: { kind: "dropAfterCommit" } });
    await appProvider.create(appInputs());
    expect(fake.snapshot().map((a) => a.name)).toEqual(["mauntic-dev-redis"]);
    expect(fake.calls("POST", /^\/apps$/)).toHaveLength(2);
  });

  test("machine and volume creates whose answers are lost or late are found by name, not made twice", async () => {
    await appProvider.create(appInputs());
    fake.inject({ method: "POST", path: /\/volumes$/, fault: { kind: "answerLate", ms: 800 } });
    const v = await volumeProvider.create(volumeInputs());
    fake.inject({ method: "POST", path: /\/machines$/, fault: { kind: "dropAfterCommit" } });
    const m = await machineProvider.create({
      app_name: "mauntic-dev-redis",
      name: "mauntic-dev-redis-0",
      region: REGION,
      config: redisMachineConfig(REDIS, v.id, "dev"),
    });
    const [app] = fake.snapshot();
    expect(only(app!.volumes).id).toBe(v.id);
    expect(only(app!.machines)).toMatchObject({ id: m.id, state: "started" });
    expect(fake.calls("POST", /\/machines$/)).toHaveLength(1);
  });

  test("a slow start outlasts several /wait calls (408 each) and still succeeds", async () => {
    await appProvider.create(appInputs());
    fake.inject({ method: "POST", path: /\/machines$/, fault: { kind: "slowStart", ms: 450 } });
    const m = await machineProvider.create({
      app_name: "mauntic-dev-redis",
      name: "mauntic-dev-redis-0",
      region: REGION,
      config: { image: "redis:7.4-alpine", guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 } },
    });
    expect(m.outs.machine_id).toBe(m.id);
    expect(fake.requests.filter((q) => q.status === 408).length).toBeGreaterThanOrEqual(3);
    expect(only(only(fake.snapshot()).machines).state).toBe("started");
  });

  test("a start that never ends within the state timeout fails in words; the next up adopts that machine", async () => {
    configureFlyClient({ ...FAST, baseUrl, token: TOKEN, stateTimeoutMs: 1_000 });
    await appProvider.create(appInputs());
    fake.inject({ method: "POST", path: /\/machines$/, fault: { kind: "slowStart", ms: 1_800 } });
    const inputs: MachineInputs = {
      app_name: "mauntic-dev-redis",
      name: "mauntic-dev-redis-0",
      region: REGION,
      config: { image: "redis:7.4-alpine", guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 } },
    };
    await expect(machineProvider.create(inputs)).rejects.toThrow(
      /Fly machine \w+ of app mauntic-dev-redis is still starting after 1 s \(allowed: started within 1 s\); its logs: fly logs -a mauntic-dev-redis -i \w+/,
    );
    configureFlyClient({ ...FAST, baseUrl, token: TOKEN });
    const m = await machineProvider.create(inputs);
    expect(only(only(fake.snapshot()).machines)).toMatchObject({ id: m.id, state: "started" });
    expect(fake.calls("POST", /\/machines$/)).toHaveLength(1);
  });

  test("insufficient_capacity is reported in words at once, and leaves no machine", async () => {
    await appProvider.create(appInputs());
    fake.inject({
      method: "POST",
      path: /\/machines$/,
      fault: { kind: "status", status: 503, flyStatus: "insufficient_capacity", message: "out of capacity" },
    });
    const err = await machineProvider
      .create({
        app_name: "mauntic-dev-redis",
        name: "m-0",
        region: REGION,
        config: { image: "redis", guest: { cpu_kind: "performance", cpus: 16, memory_mb: 32768 } },
      })
      .catch((e: unknown) => e);
    expect(isFlyApiError(err)).toBe(true);
    expect((err as Error).message).toMatch(
      /create machine m-0 in iad failed: HTTP 503 insufficient_capacity: out of capacity: Fly has no capacity for this machine size in the region right now \(allowed: retry later, or pick another region or size\)/,
    );
    expect(fake.calls("POST", /\/machines$/)).toHaveLength(1);
    expect(only(fake.snapshot()).machines).toEqual([]);
  });

  test("name_taken by another organization is an error in words; our own app from an interrupted run is adopted", async () => {
    fake.foreignAppNames.add("mauntic-dev-redis");
    await expect(appProvider.create(appInputs())).rejects.toThrow(
      /create app mauntic-dev-redis failed: HTTP 422 name_taken: .*Fly app names are one global namespace/,
    );
    expect(fake.snapshot()).toEqual([]);
    const first = await appProvider.create(appInputs("mauntic-dev-crm-import"));
    const again = await appProvider.create(appInputs("mauntic-dev-crm-import"));
    expect(again.outs.app_id).toBe(first.outs.app_id);
    expect(fake.snapshot()).toHaveLength(1);
  });

  test("Fly's rate limit: unpaced bursts earn 429s that are retried; the client's own pacing earns none", async () => {
    fake.rateLimit = { perSecond: 10, burst: 3 };
    await appProvider.create(appInputs());
    const read = () =>
      appProvider.read!("mauntic-dev-redis", { name: "mauntic-dev-redis", org_slug: ORG, app_id: "x" });
    await Promise.all(Array.from({ length: 6 }, read));
    const limited = fake.requests.filter((q) => q.status === 429).length;
    expect(limited).toBeGreaterThan(0);
    // Paced under the limit, as the defaults are under Fly's 1/s (with room for this busy machine's jitter).
    configureFlyClient({ ...FAST, baseUrl, token: TOKEN, ratePerSecond: 5, burst: 2 });
    await new Promise((r) => setTimeout(r, 400)); // the fake's bucket refills
    await Promise.all(Array.from({ length: 6 }, read));
    expect(fake.requests.filter((q) => q.status === 429).length).toBe(limited);
  });

  test("the token: sent in Fly's scheme, never in an error or in JSON; missing, it is a clear error", async () => {
    // A 404 on read means gone, not an error.
    expect(await volumeProvider.read!("vol_x", volumeInputs() as never)).toEqual({});
    fake.inject({ method: "GET", fault: { kind: "status", status: 400, message: "bad" } });
    const e2 = (await volumeProvider.read!("vol_x", volumeInputs() as never).catch((e: unknown) => e)) as Error;
    expect(e2.message).toMatch(/HTTP 400/);
    expect(e2.message + JSON.stringify(e2) + JSON.stringify(flyClient())).not.toContain(TOKEN);
    expect(fake.requests.every((q) => q.authorization === `FlyV1 ${TOKEN}`)).toBe(true);
    configureFlyClient({ baseUrl: "http://127.0.0.1:1/v1" });
    const saved = process.env.FLY_API_TOKEN;
    delete process.env.FLY_API_TOKEN;
    try {
      expect(() => flyClient()).toThrow(
        /no Fly API token: set FLY_API_TOKEN, or run `pulumi config set --secret mauntic-infra:flyApiToken <token>`/,
      );
      setConfiguredFlyToken("from-config");
      expect(flyClient().settings.baseUrl).toBe("http://127.0.0.1:1/v1");
    } finally {
      if (saved !== undefined) process.env.FLY_API_TOKEN = saved;
    }
    expect(createFlyClient({ token: "plain" }).settings.baseUrl).toBe("https://api.machines.dev/v1");
  });
});

test("a new volume replaces the Redis machine (Fly cannot move a machine to another volume), name freed first", async () => {
  const r = await upRedis();
  const v2 = await volumeProvider.create(volumeInputs(undefined, { name: "redis_data_2" }));
  const inputs = { ...r.machineInputs(), config: redisMachineConfig(REDIS, v2.id, "dev") };
  const up = await r.machine.up(inputs as never);
  expect(up.op).toBe("replace");
  expect(up.diff?.replaces).toEqual(["config.mounts"]);
  expect(r.machine.calls.slice(-2)).toEqual(["delete", "create"]);
  const app = only(fake.snapshot());
  expect(only(app.machines).id).toBe(up.id);
  expect(app.volumes.find((v) => v.id === v2.id)!.attached_machine_id).toBe(up.id);
  // The old volume stays bound to its destroyed machine for a while (terraform-provider-fly#218), then frees.
  await until("the old volume to be unbound", async () =>
    only(fake.snapshot()).volumes.find((v) => v.id === r.v.id)!.attached_machine_id === undefined ? true : undefined,
  );
});

describe("the fake keeps Fly's contract (test/fakes/fly-contract.ts)", () => {
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `FlyV1 ${TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  test("a misspelt field is refused with a 400 and recorded, top level or nested, and nothing is made", async () => {
    // fly-go CreateAppRequest and the docs both say org_slug.
    const res = await call("POST", "/apps", { name: "mauntic-dev-redis", org: ORG });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/invalid request: .*org/);
    expect(fake.snapshot()).toEqual([]);

    await appProvider.create(appInputs());
    const machine = { region: REGION, config: { image: "redis:7.4-alpine", guest: { cpus: 1, memory: 512 } } };
    expect((await call("POST", "/apps/mauntic-dev-redis/machines", machine)).status).toBe(400);
    // A real Fly field the contract does not model yet is refused too, until someone models it.
    const services = { region: REGION, config: { image: "redis:7.4-alpine", services: [] } };
    expect((await call("POST", "/apps/mauntic-dev-redis/machines", services)).status).toBe(400);
    expect((await call("GET", "/apps/mauntic-dev-redis/machines/x/wait?timeout=soon")).status).toBe(400);
    expect(fake.snapshot()[0]!.machines).toEqual([]);
    expect(fake.violations).toEqual([
      expect.stringMatching(/^request Apps_create: body .*org/),
      expect.stringMatching(/^request Machines_create: body \/config\/guest .*memory/),
      expect.stringMatching(/^request Machines_create: body \/config .*services/),
      expect.stringMatching(/^request Machines_wait: query \/timeout/),
    ]);
    fake.violations.length = 0; // seen; the afterEach check is for the tests above
  });

  test("an answer that breaks the contract is recorded as a violation", async () => {
    await appProvider.create(appInputs());
    const res = await call("POST", "/apps/mauntic-dev-redis/volumes", {
      name: "redis_data",
      region: REGION,
      size_gb: 1,
    });
    const volume = (await res.json()) as { id: string };
    (fake.apps.get("mauntic-dev-redis")!.volumes.get(volume.id) as { size_gb: unknown }).size_gb = "1GB";
    expect((await call("GET", `/apps/mauntic-dev-redis/volumes/${volume.id}`)).status).toBe(200);
    expect(fake.violations).toEqual([
      expect.stringMatching(new RegExp(`^response GET /apps/mauntic-dev-redis/volumes/${volume.id} 200: /size_gb`)),
    ]);
    fake.violations.length = 0;
  });
});

describe("as Fly answers in production (durations echoed, checks, leases, bound volumes, async deletes)", () => {
  const APP = "mauntic-pr-42-delivery-sender";
  const CHECK = { alive: { type: "tcp" as const, port: 8080, interval: "15s", timeout: "2s", grace_period: "60s" } };

  /** Three workers with a health check, as the engine creates them one after another. */
  async function upChecked(image = WORKER.image) {
    const app = lifecycle<AppInputs>("App", "c-app");
    await app.up(appInputs(APP));
    const secrets = lifecycle<SecretsInputs>("Secrets", "c-secrets");
    const values = { REDIS_URL: "redis://default:x@h:6379/0", DATABASE_URL: "postgresql://a:b@h/db" };
    const s = await secrets.up({ app_name: APP, values });
    const machines = [0, 1, 2].map((i) => lifecycle<MachineInputs>("Machine", `c-${i}`));
    const inputs = (i: number, version: number, over: Partial<typeof WORKER> = {}): MachineInputs => ({
      app_name: APP,
      name: `${APP}-${i}`,
      region: REGION,
      config: { ...queueWorkerMachineConfig("pr-42", "delivery-sender", { ...WORKER, image, ...over }), checks: CHECK },
      min_secrets_version: version,
    });
    for (const [i, l] of machines.entries()) await l.up(inputs(i, Number(s.outs.version)) as never);
    return { app, secrets, machines, inputs, values, version: Number(s.outs.version) };
  }

  /** The engine's second `up`: machine by machine (the component chains them with dependsOn). */
  async function rollAll(w: Awaited<ReturnType<typeof upChecked>>, make: (i: number) => MachineInputs) {
    const from = fake.rollouts.length;
    for (const [i, l] of w.machines.entries()) expect((await l.up(make(i) as never)).op).toBe("update");
    return fake.rollouts.slice(from);
  }

  test("image, config and secrets changes each update every machine one at a time, each healthy before the next; refresh then up changes nothing", async () => {
    // Checks pass 150 ms after a start: an update that moved on at `started` would find its predecessor critical.
    fake.checksPassMs = 150;
    const w = await upChecked();
    // Fly echoes "60s" as "1m0s" (stop_config.timeout, grace_period): a refresh then an up writes nothing.
    const config = only(fake.snapshot()).machines[0]!.config as { stop_config: { timeout: string } };
    expect(config.stop_config.timeout).toBe("1m0s");
    const writes = () => fake.requests.filter((q) => q.method !== "GET").length;
    const before = writes();
    for (const l of w.machines) expect(await l.refresh()).toEqual({ gone: false });
    for (const [i, l] of w.machines.entries()) expect((await l.up(w.inputs(i, w.version) as never)).op).toBe("same");
    expect(writes()).toBe(before);

    const names = [0, 1, 2].map((i) => `${APP}-${i}`);
    const image = await rollAll(w, (i) =>
      w.inputs(i, w.version, { image: "registry.fly.io/mauntic-workers:2026.12.0" }),
    );
    expect(image.map((r) => [r.machine, r.othersUnhealthy])).toEqual(names.map((n) => [n, []]));
    const memory = await rollAll(w, (i) =>
      w.inputs(i, w.version, { image: "registry.fly.io/mauntic-workers:2026.12.0", memoryMb: 1024 }),
    );
    expect(memory.map((r) => [r.machine, r.othersUnhealthy])).toEqual(names.map((n) => [n, []]));

    const s = await w.secrets.up({ app_name: APP, values: { ...w.values, DATABASE_URL: "postgresql://a:c@h/db" } });
    const version = Number(s.outs.version);
    expect(version).toBe(w.version + 1);
    const secrets = await rollAll(w, (i) =>
      w.inputs(i, version, { image: "registry.fly.io/mauntic-workers:2026.12.0", memoryMb: 1024 }),
    );
    // Each machine is updated with the version the secrets write answered (min_secrets_version), one at a time.
    expect(secrets.map((r) => [r.machine, r.minSecretsVersion, r.othersUnhealthy])).toEqual(
      names.map((n) => [n, version, []]),
    );
    expect(only(fake.snapshot()).machines.every((m) => m.state === "started" && !m.leased)).toBe(true);
    expect(fake.maxUpdatingAtOnce.get(APP)).toBe(1);
  });

  test("a machine whose checks stay critical stops the rollout, its check named; a failed one fails at once", async () => {
    const w = await upChecked();
    configureFlyClient({ ...FAST, baseUrl, token: TOKEN, healthTimeoutMs: 600 });
    fake.unhealthy.add(`${APP}-0`);
    await expect(w.machines[0]!.up(w.inputs(0, w.version, { image: "img:2" }) as never)).rejects.toThrow(
      new RegExp(
        `Fly machine \\w+ of app ${APP}: health checks did not pass: alive critical \\(dial tcp .*connection refused\\); its logs: fly logs -a ${APP} -i \\w+ \\(waited 1 s\\)`,
      ),
    );
    fake.unhealthy.clear();
    fake.failing.add(`${APP}-1`);
    const started = Date.now();
    await expect(w.machines[1]!.up(w.inputs(1, w.version, { image: "img:2" }) as never)).rejects.toThrow(
      new RegExp(`Fly machine \\w+ of app ${APP} is failed after its update \\(allowed: started\\)`),
    );
    // Fails on `failed` at once rather than burning the 5 s state timeout.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("destroy of a preview removes apps, machines and volumes while volumes are still bound for a while", async () => {
    fake.boundMs = 300;
    const r = await upRedis();
    const w = await upChecked();
    // The engine's destroy order: machines, then volume, secrets and apps.
    for (const l of [...w.machines, r.machine]) await l.destroy();
    await r.volume.destroy();
    expect(fake.boundRefusals).toBeGreaterThan(0); // 412 "volume is currently bound", retried
    for (const l of [w.secrets, r.secrets, w.app, r.app]) await l.destroy();
    expect(fake.snapshot()).toEqual([]);
    // Every machine was stopped with its own stop_config, as sent ("60s"/"30s", not the echo).
    expect(fake.stops.map((s) => s.body)).toEqual([
      ...Array(3).fill({ signal: "SIGTERM", timeout: "60s" }),
      { signal: "SIGTERM", timeout: "30s" },
    ]);
  });

  test("a lease held by someone else is waited out; one held past the wait is named", async () => {
    const w = await upChecked();
    fake.inject({ method: "POST", path: /\/lease$/, fault: { kind: "foreignLease", ms: 300 } });
    expect((await w.machines[0]!.up(w.inputs(0, w.version, { image: "img:2" }) as never)).op).toBe("update");
    expect(fake.calls("GET", /\/lease$/).length).toBeGreaterThan(0); // asked who holds it
    configureFlyClient({ ...FAST, baseUrl, token: TOKEN, leaseWaitMs: 300 });
    fake.inject({ method: "POST", path: /\/lease$/, fault: { kind: "foreignLease", ms: 5_000 } });
    await expect(w.machines[1]!.up(w.inputs(1, w.version, { image: "img:2" }) as never)).rejects.toThrow(
      /Fly machine \w+ of app mauntic-pr-42-delivery-sender is leased by someone-else@example\.com \(flyctl deploy\) until .*; waited 0 s \(allowed: wait for their deploy to end, or clear it: fly machine leases clear/,
    );
  });

  test("a lease outliving its TTL is refreshed while a long stop and start run", async () => {
    const w = await upChecked();
    // A fake second of 10 ms: the 120 s lease lives 1.2 s; the update's restart takes 2 s.
    fake.secondMs = 10;
    fake.stopMs = 1_000;
    fake.startMs = 1_000;
    expect((await w.machines[0]!.up(w.inputs(0, w.version, { image: "img:2" }) as never)).op).toBe("update");
    expect(fake.calls("POST", /\/lease$/).length).toBeGreaterThan(2); // acquired, then refreshed
  });

  test("a grown volume whose machine must restart (needs_restart) gets its machine restarted and waited for", async () => {
    const r = await upRedis();
    expect((await r.volume.up(volumeInputs(undefined, { size_gb: 10 }))).op).toBe("update");
    const v = only(only(fake.snapshot()).volumes);
    expect(v).toMatchObject({ size_gb: 10, needsRestart: false });
    expect(fake.stops).toEqual([{ machine: "mauntic-dev-redis-0", body: { signal: "SIGTERM", timeout: "30s" } }]);
    expect(only(only(fake.snapshot()).machines)).toMatchObject({ state: "started", leased: false });
  });

  test("new apps and machines invisible for a moment are waited for; a volume is placed with its machine's guest", async () => {
    fake.visibleMs = 300;
    const r = await upRedis();
    expect(only(only(fake.snapshot()).machines).state).toBe("started");
    expect(fake.requests.some((q) => q.status === 404 && q.path === "/apps/mauntic-dev-redis")).toBe(true);
    const compute = { cpu_kind: "shared" as const, cpus: 1, memory_mb: 512 };
    const v = await volumeProvider.create(volumeInputs(undefined, { name: "redis_data_2", compute }));
    expect(only(fake.snapshot()).volumes.find((x) => x.id === v.id)!.compute).toEqual(compute);
  });

  test("prod's Redis volumes each land on hardware of their own (HA_VOLUME_PLACEMENT reaches Fly); unasked, they may share", async () => {
    await upRedis();
    for (const name of ["redis_data_1", "redis_sentinel_0", "redis_sentinel_1"]) {
      await volumeProvider.create(volumeInputs(undefined, { name, ...HA_VOLUME_PLACEMENT }));
    }
    const volumes = only(fake.snapshot()).volumes;
    const ha = volumes.filter((v) => v.name !== "redis_data");
    expect(new Set(ha.map((v) => v.zone)).size).toBe(3);
    // The dev volume (no flags) sits on the region's first zone; an app-wide unique volume never joins it.
    const shared = volumes.find((v) => v.name === "redis_data")!;
    expect(ha.map((v) => v.zone)).not.toContain(shared.zone);
    await volumeProvider.create(volumeInputs(undefined, { name: "scratch" }));
    expect(only(fake.snapshot()).volumes.find((v) => v.name === "scratch")!.zone).toBe(shared.zone);
  });

  test("secrets are read at the last version written; a failed machine is destroyed with force", async () => {
    const w = await upChecked();
    expect(await w.secrets.refresh()).toEqual({ gone: false });
    expect(fake.calls("GET", /\/secrets$/).at(-1)!.search).toBe(`?version=${w.version}`);
    fake.failing.add(`${APP}-2`);
    await expect(w.machines[2]!.up(w.inputs(2, w.version, { image: "img:2" }) as never)).rejects.toThrow(/is failed/);
    await w.machines[2]!.destroy();
    expect(fake.calls("DELETE", /\/machines\/[^/]+$/).at(-1)!.search).toBe("?force=true");
    expect(only(fake.snapshot()).machines).toHaveLength(2);
  });

  test("the fake refuses what Fly refuses: a stop timeout that is no duration, a Retry-After not waited out", async () => {
    const w = await upChecked();
    const id = String(w.machines[0]!.state!.outs.machine_id);
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: `FlyV1 ${TOKEN}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect(
      (await call("POST", `/apps/${APP}/machines/${id}/stop`, { signal: "SIGTERM", timeout: "soon" })).status,
    ).toBe(400);
    fake.inject({ method: "GET", path: /\/machines$/, fault: { kind: "status", status: 429, retryAfterSeconds: 1 } });
    expect((await call("GET", `/apps/${APP}/machines`)).status).toBe(429);
    expect((await call("GET", `/apps/${APP}/machines`)).status).toBe(200);
    expect(fake.violations).toEqual([
      expect.stringMatching(/^request Machines_list: sent \d+ ms before its Retry-After ended/),
    ]);
    fake.violations.length = 0;
    // The client waits it out.
    fake.inject({ method: "GET", path: /\/machines$/, fault: { kind: "status", status: 429, retryAfterSeconds: 1 } });
    const t = Date.now();
    await machineProvider.create(w.inputs(0, w.version));
    expect(Date.now() - t).toBeGreaterThanOrEqual(1_000);
  });
});

