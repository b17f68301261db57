/**
 * Prod's Redis group: a primary, `fly.redis.replicas` replicas and 3 Sentinels, each machine's command as
 * infra/fly/redis.ts generates it, the workers' connection env, the config key, and the group run on Debian's
 * redis-server with BullMQ producers and workers through a `kill -9` of the primary (timing targets live in
 * `npm run bench:redis-failover`, not here).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { afterAll, describe, expect, test } from "vitest";
import { ConfigError } from "../infra/config/errors";
import { loadStackConfigFromFile, previewOverrides, stackFilePath } from "../infra/config/load";
import { CONFIG_NAMESPACE } from "../infra/config/schema";
import {
  REDIS_VOLUME_NAME,
  redisMachineConfig,
  redisVolumeName,
  sentinelMachineConfig,
  sentinelVolumeName,
} from "../infra/fly/component";
import {
  SENTINEL_MASTER_NAME,
  formatSentinels,
  minReplicasToWrite,
  parseSentinels,
  redisConnection,
  redisServerSpec,
  sentinelSpec,
} from "../infra/fly/redis";
import { proveFailover, renderFailover } from "../infra/fly/redis-failover";
import { INSTALL_HINT, redisServerPath } from "../infra/fly/redis-proof";

const REDIS = { image: "redis:7.4-alpine", vmSize: "shared-cpu-2x", memoryMb: 2048, volumeSizeGb: 20 } as const;
const PRIMARY = { host: "e784079b449483.vm.mauntic-prod-redis.internal", port: 6379 };

describe("the data nodes' command", () => {
  const primary = redisServerSpec({ memoryMb: 2048, ha: { minReplicasToWrite: 1 } });
  const replica = redisServerSpec({ memoryMb: 2048, ha: { replicaOf: PRIMARY, minReplicasToWrite: 1 } });
  const option = (args: string[], name: string) => args[args.indexOf(`--${name}`) + 1];

  test("BullMQ's settings stay, and a primary without a replica that acknowledged within 10 s refuses writes", () => {
    for (const spec of [primary, replica]) {
      expect(option(spec.args, "maxmemory-policy")).toBe("noeviction");
      expect(option(spec.args, "appendonly")).toBe("yes");
      expect(option(spec.args, "appendfsync")).toBe("everysec");
      expect(option(spec.args, "min-replicas-to-write")).toBe("1");
      expect(option(spec.args, "min-replicas-max-lag")).toBe("10");
    }
    // The lone Redis of dev and previews has no replica to wait for.
    expect(redisServerSpec({ memoryMb: 512 }).args).not.toContain("--min-replicas-to-write");
  });

  test("min-replicas-to-write is 1 from 2 replicas on: with 1 replica, losing it would stop the queues", () => {
    expect([0, 1, 2, 3].map(minReplicasToWrite)).toEqual([0, 0, 1, 1]);
  });

  test("a replica starts as a replica of node 0, the primary as a primary; both authenticate and announce a name", () => {
    const script = (s: typeof primary) => s.command[2]!;
    expect(script(replica)).toContain(`\nreplicaof ${PRIMARY.host} 6379\n`);
    expect(script(primary)).not.toMatch(/replicaof/);
    for (const s of [primary, replica]) {
      expect(script(s)).toContain("masterauth ${REDIS_PASSWORD:?");
      expect(script(s)).toContain("\nreplica-announce-ip $me\n");
      // The node's stable name on Fly: <machine_id>.vm.<app>.internal from the machine's own env.
      expect(script(s)).toMatch(
        /^me="\$\{REDIS_ANNOUNCE_HOST:-\$\{FLY_MACHINE_ID:\?\}\.vm\.\$\{FLY_APP_NAME:\?\}\.internal\}"/,
      );
      expect(s.command.join(" ")).not.toMatch(/requirepass [^$]|masterauth [^$]/);
    }
  });
});

describe("the Sentinels' command", () => {
  const spec = sentinelSpec({ primary: PRIMARY });
  test("monitors node 0 by name with quorum 2, calls it down after 5 s", () => {
    expect(spec.settings).toEqual([
      "sentinel resolve-hostnames yes",
      "sentinel announce-hostnames yes",
      `sentinel monitor ${SENTINEL_MASTER_NAME} ${PRIMARY.host} 6379 2`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 5000`,
      `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 60000`,
      `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
    ]);
    expect(spec.port).toBe(26379);
  });
  test("writes its config file on the volume only when there is none (a restart keeps what it learned)", () => {
    const script = spec.command[2]!;
    expect(script).toContain(`conf=/data/sentinel.conf\n[ -s "$conf" ] || printf`);
    expect(script).toContain(`exec redis-server "$conf" --sentinel --bind '* -::*' --port 26379 - <<EOF`);
    expect(script).toContain("requirepass ${REDIS_PASSWORD:?");
    expect(script).toContain(`sentinel auth-pass ${SENTINEL_MASTER_NAME} \${REDIS_PASSWORD:?`);
    expect(script).toContain("sentinel announce-ip $me");
  });

  test("its machine: its own volume, a check on 26379, no services, marked as a Sentinel", () => {
    const c = sentinelMachineConfig(REDIS, "vol_s", "prod", PRIMARY);
    expect(c.mounts).toEqual([{ volume: "vol_s", path: "/data" }]);
    expect(c.checks?.sentinel).toMatchObject({ type: "tcp", port: 26379 });
    expect(c.services).toBeUndefined();
    expect(c.metadata).toMatchObject({ mauntic_role: "redis-sentinel" });
    expect(c.guest).toEqual({ cpu_kind: "shared", cpus: 1, memory_mb: 256 });
    expect(c.init?.exec).toEqual(sentinelSpec({ primary: PRIMARY }).command);
  });

  test("data node machines carry their role in the group; node 0 keeps the lone Redis's volume name", () => {
    const c = redisMachineConfig(REDIS, "vol_1", "prod", { replicaOf: PRIMARY, minReplicasToWrite: 1 });
    expect(c.init?.exec?.[2]).toContain(`replicaof ${PRIMARY.host} 6379`);
    expect(c.metadata).toMatchObject({ mauntic_role: "redis" });
    expect([0, 1, 2].map(redisVolumeName)).toEqual([
      REDIS_VOLUME_NAME,
      `${REDIS_VOLUME_NAME}_1`,
      `${REDIS_VOLUME_NAME}_2`,
    ]);
    expect(sentinelVolumeName(2)).toBe("redis_sentinel_2");
    for (const n of [...[0, 1, 2].map(redisVolumeName), sentinelVolumeName(2)]) expect(n).toMatch(/^[a-z0-9_]{1,30}$/);
    // Each volume on hardware of its own: test/fly-providers.test.ts checks where Fly puts them.
  });
});

describe("the workers' connection env", () => {
  test("REDIS_SENTINELS round-trips names and IPv6 literals; a malformed entry names the variable and the forms", () => {
    const list = [
      { host: "a1.vm.mauntic-prod-redis.internal", port: 26379 },
      { host: "fdaa:0:1::3", port: 26379 },
    ];
    expect(formatSentinels(list)).toBe("a1.vm.mauntic-prod-redis.internal:26379,[fdaa:0:1::3]:26379");
    expect(parseSentinels(formatSentinels(list))).toEqual(list);
    expect(parseSentinels("h:65535")).toEqual([{ host: "h", port: 65535 }]);
    expect(() => parseSentinels("h:26379,fdaa::3:26379")).toThrow(
      "REDIS_SENTINELS: 'fdaa::3:26379' is not host:port (allowed: name:26379, [ipv6]:26379)",
    );
    expect(() => parseSentinels("h")).toThrow(/REDIS_SENTINELS: 'h' is not host:port/);
  });

  test("the Sentinel form gives ioredis the Sentinels, the group's name, both passwords and IPv6", () => {
    const { url, options } = redisConnection({
      REDIS_SENTINELS: "a.internal:26379,b.internal:26379",
      REDIS_SENTINEL_MASTER: "mauntic",
      REDIS_PASSWORD: "pw",
    });
    expect(url).toBeUndefined();
    expect(options).toMatchObject({
      sentinels: [
        { host: "a.internal", port: 26379 },
        { host: "b.internal", port: 26379 },
      ],
      name: "mauntic",
      password: "pw",
      sentinelPassword: "pw",
      family: 6,
      maxRetriesPerRequest: null,
    });
    const reconnect = options.reconnectOnError as (e: Error) => boolean;
    expect(reconnect(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(reconnect(new Error("NOREPLICAS Not enough good replicas to write."))).toBe(false);
  });

  test("one machine keeps REDIS_URL; missing settings are named", () => {
    expect(redisConnection({ REDIS_URL: "redis://x" })).toEqual({
      url: "redis://x",
      options: { maxRetriesPerRequest: null },
    });
    expect(() => redisConnection({ REDIS_SENTINELS: "a:26379" })).toThrow(
      "REDIS_SENTINELS is set but REDIS_PASSWORD is not",
    );
    expect(() => redisConnection({})).toThrow("neither REDIS_URL nor REDIS_SENTINELS is set");
  });
});

describe("fly.redis.replicas", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-redis-ha-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const withReplicas = (stack: "dev" | "prod", replicas: unknown) => {
    const doc = YAML.parse(fs.readFileSync(stackFilePath(stack), "utf8")) as { config: Record<string, any> };
    doc.config[`${CONFIG_NAMESPACE}:fly`].redis.replicas = replicas;
    const file = path.join(tmp, `Pulumi.${stack}-${String(replicas)}.yaml`);
    fs.writeFileSync(file, YAML.stringify(doc));
    return () => loadStackConfigFromFile(stack, { configFile: file });
  };

  test("prod runs 2 replicas, dev one machine, a preview one machine even when dev had replicas", () => {
    expect(loadStackConfigFromFile("prod").fly.redis.replicas).toBe(2);
    expect(loadStackConfigFromFile("dev").fly.redis.replicas).toBe(0);
    const dev = withReplicas("dev", 2)();
    expect(dev.fly.redis.replicas).toBe(2);
    expect(previewOverrides(dev, "pr-7").fly.redis.replicas).toBe(0);
  });

  test("0..4 taken, 5 and -1 refused with the YAML path", () => {
    expect(withReplicas("prod", 4)().fly.redis.replicas).toBe(4);
    for (const bad of [5, -1]) {
      try {
        withReplicas("prod", bad)();
        expect.unreachable(`replicas ${bad} was taken`);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).problems.join("\n")).toMatch(/fly\.redis\.replicas/);
      }
    }
  });
});

describe("on real redis-server: the group through a kill -9 of its primary", () => {
  const missing = redisServerPath() ? undefined : INSTALL_HINT;
  if (missing) console.warn(`skipping the failover run: ${missing}`);

  test("without redis-server on PATH nothing runs and the report says how to install it", async () => {
    const saved = process.env.PATH;
    process.env.PATH = fs.mkdtempSync(path.join(os.tmpdir(), "no-redis-"));
    try {
      const r = await proveFailover({ memoryMb: 256, replicas: 2 });
      expect(r.skipped).toBe(INSTALL_HINT);
      expect(r.pids).toEqual([]);
      expect(renderFailover(r)).toEqual([`redis failover: skipped: ${INSTALL_HINT}`]);
    } finally {
      process.env.PATH = saved;
    }
  });

  test.skipIf(missing)(
    "the Sentinels promote a replica, BullMQ carries on through them, no job acknowledged >= 1 s before the kill is lost or left unprocessed, the old primary rejoins as a replica, nothing is left running",
    async () => {
      const r = await proveFailover({ memoryMb: 256, replicas: 2, beforeKillMs: 2500, afterResumeMs: 1000 });
      process.stdout.write(`${renderFailover(r).join("\n")}\n`);
      expect(r.skipped).toBeUndefined();
      expect(r.problems).toEqual([]);
      expect(r.newPrimary).not.toBe("");
      expect(r.newPrimary).not.toBe(r.oldPrimary);
      expect(Number.isFinite(r.failoverMs)).toBe(true);
      expect(r.jobsAckedBeforeCutoff).toBeGreaterThan(0);
      expect(r.lostBeforeCutoff).toBe(0);
      expect(r.jobsAcked).toBeGreaterThan(r.jobsAckedBeforeKill);
      expect(r.jobsProcessed).toBeGreaterThanOrEqual(r.jobsAckedBeforeCutoff);
      expect(Number.isFinite(r.rejoinMs)).toBe(true);
      expect(r.ok).toBe(true);
      // 3 data nodes + 3 Sentinels + the restarted node, and none of them still running.
      expect(r.pids).toHaveLength(7);
      for (const pid of r.pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow(/ESRCH/);
      expect(r.strays).toBe(0); // nor any fork of theirs
    },
    180_000,
  );
});
