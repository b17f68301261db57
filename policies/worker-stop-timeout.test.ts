import { describe, expect, it } from "vitest";
import { durationSeconds } from "./fly";
import { workerStopTimeout } from "./worker-stop-timeout";
import { extraResource, named, planOf, previewPlanOf, STACKS, verdicts } from "./testing";

/** A queue worker's machine as branch fly declares it (infra/fly/component.ts there, queueWorkerMachineConfig). */
const worker = (timeout: string | undefined, longest: string | undefined) =>
  extraResource("prod", "pulumi-nodejs:dynamic/fly:Machine", "mauntic-prod-sender-0", {
    app_name: "mauntic-prod-fly-delivery-sender",
    config: {
      image: "registry.fly.io/mauntic-workers:2026.11.3",
      init: { cmd: ["node", "dist/workers/delivery-sender.js"] },
      ...(timeout ? { stop_config: { timeout, signal: "SIGTERM" } } : {}),
      metadata: {
        mauntic_role: "queue-worker",
        mauntic_worker: "delivery-sender",
        ...(longest ? { longest_job_seconds: longest } : {}),
      },
    },
  });

describe("worker-stop-timeout", () => {
  it("reads Go durations as the Machines API takes them", () => {
    expect(["30s", "5m", "1m30s", "2h", "1.5s", "", "30"].map(durationSeconds)).toEqual([
      30,
      300,
      90,
      7200,
      1.5,
      NaN,
      NaN,
    ]);
  });

  it.each(STACKS)("is quiet on today's %s plan (no Fly resources yet)", async (stack) => {
    expect(await verdicts(workerStopTimeout, planOf(stack))).toEqual([]);
  });

  it("leaves prod's Redis Sentinels (no jobs) alone, and still checks a worker beside them", async () => {
    const sentinel = extraResource("prod", "pulumi-nodejs:dynamic/fly:Machine", "mauntic-prod-fly-redis-sentinel-0", {
      app_name: "mauntic-prod-redis",
      config: {
        image: "redis:7.4-alpine",
        stop_config: { timeout: "30s", signal: "SIGTERM" },
        metadata: { mauntic_role: "redis-sentinel" },
      },
    });
    expect(await verdicts(workerStopTimeout, [sentinel])).toEqual([]);
    const w = worker(undefined, "90");
    expect((await verdicts(workerStopTimeout, [sentinel, w])).map((v) => v.urn)).toEqual([w.urn]);
  });

  it("is quiet when the stop timeout covers the longest job", async () => {
    expect(await verdicts(workerStopTimeout, [worker("2m", "90")])).toEqual([]);
  });

  it("fires when the job outlasts the timeout (or Fly's 5 s default), when it is unknown, and past Fly's 300 s", async () => {
    const msgs = async (w: ReturnType<typeof worker>) => (await verdicts(workerStopTimeout, [w])).map((v) => v.message);
    expect(await msgs(worker("30s", "120"))).toEqual([
      "worker machine mauntic-prod-sender-0 stops after 30s but its longest job takes 120 s",
    ]);
    expect(await msgs(worker(undefined, "10"))).toEqual([
      "worker machine mauntic-prod-sender-0 stops after 5s (default) but its longest job takes 10 s",
    ]);
    expect(await msgs(worker("30s", undefined))).toEqual([
      "worker machine mauntic-prod-sender-0 does not say its longest job (metadata.longest_job_seconds)",
    ]);
    expect(await msgs(worker("10m", "400"))).toEqual([
      "worker machine mauntic-prod-sender-0's stop timeout 10m exceeds Fly's 300 s",
    ]);
  });

  describe("in a preview of a first deploy (a Redis machine's config one unknown: it names a volume made then)", () => {
    it.each(["dev", "prod"] as const)(
      "reaches a verdict on %s: quiet, not 'cannot run during preview'",
      async (stack) => {
        const plan = previewPlanOf(stack);
        expect(named(plan, `mauntic-${stack}-fly-redis-machine`).outputs.config).toBe(
          "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        );
        expect(await verdicts(workerStopTimeout, plan)).toEqual([]);
      },
    );

    it("still judges the workers there: a timeout one second short of the longest job fires", async () => {
      const plan = previewPlanOf("prod");
      const m = named(plan, "mauntic-prod-fly-crm-import-machine-0");
      const config = m.outputs.config as {
        stop_config: { timeout: string };
        metadata: { longest_job_seconds: string };
      };
      expect(config.metadata.longest_job_seconds).toBe("270");
      config.stop_config.timeout = "270s";
      expect(await verdicts(workerStopTimeout, plan)).toEqual([]);
      config.stop_config.timeout = "269s";
      expect((await verdicts(workerStopTimeout, plan)).map((v) => [v.urn, v.message])).toEqual([
        [
          m.urn,
          "worker machine mauntic-prod-fly-crm-import-machine-0 stops after 269s but its longest job takes 270 s",
        ],
      ]);
    });

    it("a machine outside the Redis component whose config is unknown is not passed over", async () => {
      const plan = previewPlanOf("prod");
      named(plan, "mauntic-prod-fly-crm-import-machine-0").outputs.config = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
      const v = await verdicts(workerStopTimeout, plan);
      expect(v.map((x) => x.message)).toEqual([expect.stringMatching(/can't run .*during preview/)]);
    });
  });
});
