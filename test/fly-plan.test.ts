/**
 * The Fly components in the dev, prod and pr-42 plans (offline engine, through the CLI): the Redis app, volume,
 * secrets and machine; one app per queue worker with its machines; every password, URL and token `[secret]`.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { loadStackConfigFromFile } from "../infra/config/load";
import type { Plan, PlanResource } from "../infra/offline/plan";
import { planJson, runCli } from "./helpers/cli";

const T = {
  redis: "mauntic:fly:Redis",
  worker: "mauntic:fly:QueueWorker",
  app: "pulumi-nodejs:dynamic/fly:App",
  volume: "pulumi-nodejs:dynamic/fly:Volume",
  machine: "pulumi-nodejs:dynamic/fly:Machine",
  secrets: "pulumi-nodejs:dynamic/fly:Secrets",
};
const STACKS = ["dev", "prod", "pr-42"] as const;
const plans: Record<string, Plan> = {};
const texts: Record<string, string> = {};

beforeAll(async () => {
  const [dev, prod, pr, devText] = await Promise.all([
    planJson("dev"),
    planJson("prod"),
    planJson("pr-42"),
    runCli(["plan", "--stack", "dev"]),
  ]);
  Object.assign(plans, { dev, prod, "pr-42": pr });
  texts.dev = devText.stdout;
}, 300_000);

const ofType = (plan: Plan, type: string) => plan.resources.filter((r) => r.type === type);
const childrenOf = (plan: Plan, parent: PlanResource, type: string) =>
  plan.resources.filter((r) => r.parent === parent.urn && r.type === type);
const one = <T>(xs: T[]): T => {
  expect(xs).toHaveLength(1);
  return xs[0]!;
};

describe.each(STACKS)("%s", (stack) => {
  const config = loadStackConfigFromFile(stack);

  test("Redis: its own app, an encrypted volume at the data dir, a generated password secret, one private machine", () => {
    const plan = plans[stack]!;
    const redis = one(ofType(plan, T.redis));
    const app = one(childrenOf(plan, redis, T.app));
    // The stack's own 6PN network: previews, other stacks and the org's WireGuard peers cannot reach its Redis.
    expect(app.inputs).toMatchObject({
      name: `mauntic-${stack}-redis`,
      org_slug: config.fly.org,
      network: `mauntic-${stack}-net`,
    });
    // Node 0's volume and machine (prod adds replicas and Sentinels: see the test below).
    const volume = one(childrenOf(plan, redis, T.volume).filter((v) => v.inputs.name === "redis_data"));
    expect(volume.inputs).toMatchObject({
      name: "redis_data",
      region: config.fly.primaryRegion,
      size_gb: config.fly.redis.volumeSizeGb,
      encrypted: true,
      // Placed where the Redis machine fits (fly-go CreateVolumeRequest.ComputeRequirements).
      compute: { memory_mb: config.fly.redis.memoryMb },
    });
    expect(volume.protect).toBe(stack === "prod");
    const secrets = one(childrenOf(plan, redis, T.secrets));
    expect(secrets.inputs).toMatchObject({ generate: ["REDIS_PASSWORD"], values: "[secret]" });
    const machine = one(
      childrenOf(plan, redis, T.machine).filter((m) => m.name === `mauntic-${stack}-fly-redis-machine`),
    );
    const c = machine.inputs.config as Record<string, unknown>;
    expect(c).toMatchObject({
      image: config.fly.redis.image,
      guest: { memory_mb: config.fly.redis.memoryMb },
      mounts: [{ path: "/data" }],
      restart: { policy: "always" },
      checks: { redis: { type: "tcp", port: 6379 } },
    });
    expect(c.services).toBeUndefined();
    expect(JSON.stringify(c)).not.toMatch(/requirepass [0-9a-f]/);
    expect(machine.dependsOn).toContain(volume.urn);
    expect(machine.dependsOn).toContain(secrets.urn);
  });

  test("one app per queue worker with `count` machines, chained, each with its env, stop config and secrets", () => {
    const plan = plans[stack]!;
    const workers = ofType(plan, T.worker);
    expect(workers.map((w) => w.name).sort()).toEqual(
      Object.keys(config.fly.queueWorkers)
        .map((w) => `mauntic-${stack}-fly-${w}`)
        .sort(),
    );
    for (const [name, spec] of Object.entries(config.fly.queueWorkers)) {
      const w = one(workers.filter((x) => x.name === `mauntic-${stack}-fly-${name}`));
      expect(one(childrenOf(plan, w, T.app)).inputs).toMatchObject({
        name: `mauntic-${stack}-${name}`,
        network: `mauntic-${stack}-net`, // the same network as its Redis, so the workers reach it
      });
      const secrets = one(childrenOf(plan, w, T.secrets));
      expect(secrets.inputs.values).toBe("[secret]");
      const machines = childrenOf(plan, w, T.machine);
      expect(machines).toHaveLength(stack === "pr-42" ? Math.min(spec.count, 1) : spec.count);
      machines.forEach((m, i) => {
        expect(m.inputs.config).toMatchObject({
          image: spec.image,
          init: { cmd: spec.command },
          env: {
            QUEUES: spec.queues.join(","),
            CONCURRENCY: String(spec.concurrency),
            BULLMQ_PREFIX: `mauntic:${stack}`,
          },
          stop_config: { signal: spec.stopSignal, timeout: `${spec.stopTimeoutSeconds}s` },
        });
        expect(spec.stopTimeoutSeconds).toBeGreaterThanOrEqual(spec.longestJobSeconds);
        if (i > 0) expect(m.dependsOn).toContain(machines[i - 1]!.urn);
      });
    }
  });

  test("every worker's secrets come from this stack's own Redis (a preview never reaches dev's or prod's queues)", () => {
    const plan = plans[stack]!;
    const redisSecrets = one(childrenOf(plan, one(ofType(plan, T.redis)), T.secrets));
    for (const w of ofType(plan, T.worker)) {
      const secrets = one(childrenOf(plan, w, T.secrets));
      expect(secrets.dependsOn).toContain(redisSecrets.urn);
      expect(secrets.urn).toContain(`urn:pulumi:${stack}::`);
    }
  });

  test("outputs: the Redis URL secret, the stack's own queue prefix; no URL or password in clear anywhere", () => {
    const plan = plans[stack]!;
    expect(plan.outputs).toMatchObject({
      flyRedisApp: `mauntic-${stack}-redis`,
      flyRedisUrl: "[secret]",
      flyQueuePrefix: `mauntic:${stack}`,
    });
    const all = JSON.stringify(plan);
    expect(all).not.toMatch(/redis:\/\/|postgres(ql)?:\/\/|REDIS_PASSWORD=|npg_/);
  });
});

test("prod: a primary and 2 replicas, 3 Sentinels, each on a volume of its own hardware zone, rolled one at a time; the workers connect through the Sentinels", () => {
  const plan = plans.prod!;
  const redis = one(ofType(plan, T.redis));
  const volumes = childrenOf(plan, redis, T.volume);
  expect(volumes.map((v) => v.inputs.name).sort()).toEqual([
    "redis_data",
    "redis_data_1",
    "redis_data_2",
    "redis_sentinel_0",
    "redis_sentinel_1",
    "redis_sentinel_2",
  ]);
  for (const v of volumes) {
    expect(v.inputs).toMatchObject({ require_unique_zone: true, unique_zone_app_wide: true, encrypted: true });
    expect(v.protect).toBe(true);
  }
  const byName = (n: string) =>
    one(childrenOf(plan, redis, T.machine).filter((m) => m.name === `mauntic-prod-fly-redis-${n}`));
  const order = ["machine", "machine-1", "machine-2", "sentinel-0", "sentinel-1", "sentinel-2"].map(byName);
  expect(childrenOf(plan, redis, T.machine)).toHaveLength(6);
  order.forEach((m, i) => {
    const role = (m.inputs.config as { metadata: Record<string, string> }).metadata.mauntic_role;
    expect(role).toBe(i < 3 ? "redis" : "redis-sentinel");
    if (i > 0) expect(m.dependsOn).toContain(order[i - 1]!.urn);
  });
  const exec = (m: PlanResource) => (m.inputs.config as { init: { exec: string[] } }).init.exec[2] ?? "";
  expect(exec(order[0]!)).not.toMatch(/replicaof/);
  expect(exec(order[1]!)).toMatch(/\nreplicaof [0-9a-f]{14}\.vm\.mauntic-prod-redis\.internal 6379\n/);
  expect(exec(order[3]!)).toMatch(/sentinel monitor mauntic [0-9a-f]{14}\.vm\.mauntic-prod-redis\.internal 6379 2/);
  // REDIS_SENTINELS is made of the Sentinel machines' names: every worker's secrets wait for them.
  for (const w of ofType(plan, T.worker)) {
    const secrets = one(childrenOf(plan, w, T.secrets));
    for (const s of order.slice(3)) expect(secrets.dependsOn).toContain(s.urn);
  }
  expect(plan.outputs.flyRedisNodes).toEqual({ data: 3, sentinels: 3 });
});

test("dev and previews: one Redis machine on one volume, no placement asked", () => {
  for (const stack of ["dev", "pr-42"]) {
    const plan = plans[stack]!;
    expect(one(ofType(plan, T.volume)).inputs.require_unique_zone).toBeUndefined();
    expect(ofType(plan, T.machine).filter((m) => m.name.includes("-fly-redis-"))).toHaveLength(1);
    expect(plan.outputs.flyRedisNodes).toEqual({ data: 1, sentinels: 0 });
  }
});

test("pr-42 gets its own small Redis: the smallest VM and a 1 GB volume", () => {
  const plan = plans["pr-42"]!;
  expect(one(ofType(plan, T.volume)).inputs.size_gb).toBe(1);
  const redisMachine = one(ofType(plan, T.machine).filter((m) => m.name.includes("-redis-")));
  expect(redisMachine.inputs.config).toMatchObject({ guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 } });
  expect(plan.outputs.flyRedisMaxmemoryMb).toBe(153);
});

test("the dev plan's tree lists the Fly resources and masks the Redis URL", () => {
  expect(texts.dev).toMatch(/mauntic:fly:Redis\s+mauntic-dev-fly-redis/);
  expect(texts.dev).toMatch(/pulumi-nodejs:dynamic\/fly:Machine\s+mauntic-dev-fly-crm-import-machine-0/);
  expect(texts.dev).toMatch(/flyRedisUrl: \[secret\]/);
});
