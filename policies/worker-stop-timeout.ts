import { durationSeconds, isRedis, isRedisSentinel, machines, underRedisComponent } from "./fly";
import { stackPolicy, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "worker-stop-timeout",
  description:
    "Each BullMQ worker machine's stop_config.timeout covers its longest job (`metadata.longest_job_seconds`) and stays within Fly's 300 s maximum.",
  why: "On deploy Fly sends the stop signal and kills the machine after the timeout: a job still running is cut off, stalls, and runs again (a second email, a double charge).",
  enforcement: { prod: "mandatory", dev: "advisory", preview: "advisory" },
  remediation: "Raise the queue worker's `stopTimeoutSeconds` (<= 300) or split the job so `longestJobSeconds` fits.",
};

/** Fly: default stop is SIGINT after 5 s; the maximum kill timeout is 300 s (DESIGN.md, Fly Machines API). */
export const FLY_MAX_STOP_SECONDS = 300;
export const FLY_DEFAULT_STOP_SECONDS = 5;

export const workerStopTimeout = stackPolicy(meta, ({ resources }, report) => {
  // Redis machines are left out before their config is read: it can be unknown in a preview, and they run no jobs.
  const candidates = machines(resources.filter((r) => !underRedisComponent(r)));
  for (const { r, config } of candidates.filter((m) => !isRedis(m.config) && !isRedisSentinel(m.config))) {
    const longest = Number(config.metadata?.longest_job_seconds);
    const timeout = config.stop_config?.timeout
      ? durationSeconds(config.stop_config.timeout)
      : FLY_DEFAULT_STOP_SECONDS;
    if (!Number.isFinite(longest)) {
      report(`worker machine ${r.name} does not say its longest job (metadata.longest_job_seconds)`, r.urn);
    } else if (!(timeout >= longest)) {
      report(
        `worker machine ${r.name} stops after ${config.stop_config?.timeout ?? `${FLY_DEFAULT_STOP_SECONDS}s (default)`} but its longest job takes ${longest} s`,
        r.urn,
      );
    }
    if (timeout > FLY_MAX_STOP_SECONDS)
      report(
        `worker machine ${r.name}'s stop timeout ${config.stop_config?.timeout} exceeds Fly's ${FLY_MAX_STOP_SECONDS} s`,
        r.urn,
      );
  }
});
