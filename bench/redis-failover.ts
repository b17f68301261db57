/**
 * The Redis failover benchmark (`npm run bench:redis-failover`): prod's Redis group (a primary, `fly.redis.replicas`
 * replicas and 3 Sentinels, each started with the command its Fly machine runs) on Debian's redis-server, BullMQ
 * producers and workers connected through the Sentinels, `kill -9` of the primary mid-run. Prints the failover
 * time and the jobs acknowledged and lost. Targets: failover within 30 s; 0 lost of the jobs acknowledged 1 s or
 * more before the kill. Exits 1 when a target is missed, 2 when redis-server is missing.
 *
 *   npm run bench:redis-failover [-- --runs 3 --replicas 2 --memory-mb 2048]
 */
import { loadStackConfigFromFile } from "../infra/config/load";
import { proveFailover, renderFailover } from "../infra/fly/redis-failover";

export const FAILOVER_TARGET_MS = 30_000;
export const LOST_TARGET = 0;

function flag(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} ${process.argv[i + 1]} (allowed: a positive integer)`);
  return v;
}

async function main() {
  // Prod's own sizes unless told otherwise: what the machines run.
  const prod = loadStackConfigFromFile("prod").fly.redis;
  const runs = flag("runs") ?? 1;
  const replicas = flag("replicas") ?? prod.replicas;
  const memoryMb = flag("memory-mb") ?? prod.memoryMb;
  let missed = 0;
  for (let run = 1; run <= runs; run++) {
    const r = await proveFailover({
      memoryMb,
      replicas,
      stack: "prod",
      beforeKillMs: 3000,
      afterResumeMs: 2000,
      log: (l) => process.stderr.write(`  ${l}\n`),
    });
    if (r.skipped) {
      console.log(renderFailover(r).join("\n"));
      process.exit(2);
    }
    console.log(`run ${run}/${runs}`);
    console.log(renderFailover(r).join("\n"));
    const failoverOk = r.failoverMs <= FAILOVER_TARGET_MS;
    const lostOk = r.lostBeforeCutoff <= LOST_TARGET && r.problems.length === 0;
    console.log(
      `targets: failover ${r.failoverMs} ms <= ${FAILOVER_TARGET_MS} ms ${failoverOk ? "met" : "MISSED"}; lost ${r.lostBeforeCutoff} (of ${r.jobsAckedBeforeCutoff} acknowledged >= 1 s before the kill) <= ${LOST_TARGET} ${lostOk ? "met" : "MISSED"}`,
    );
    if (!failoverOk || !lostOk) missed++;
  }
  process.exit(missed ? 1 : 0);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
