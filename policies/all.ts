/**
 * The policy pack's policies, as a list. Tests and the offline harness (infra/offline/policies.ts) import this
 * module; only policies/index.ts constructs the PolicyPack (which starts a gRPC server, one per process).
 */
import type { MetaPolicy } from "./lib";
import { analyticsOnReplica } from "./analytics-on-replica";
import { cacheTierEdgeTtl } from "./cache-tier-edge-ttl";
import { cacheTiers } from "./cache-tiers";
import { connectionBudget } from "./connection-budget";
import { edgeCacheRuleHost } from "./edge-cache-rule-host";
import { hyperdriveAccountBudget } from "./hyperdrive-account-budget";
import { hyperdrivePerWorker } from "./hyperdrive-per-worker";
import { kvTtlBounds } from "./kv-ttl-bounds";
import { leastPrivilegeRoles } from "./least-privilege-roles";
import { migrationsDirectEndpoint } from "./migrations-direct-endpoint";
import { noPlaintextSecrets } from "./no-plaintext-secrets";
import { previewBranchTtl } from "./preview-branch-ttl";
import { previewBudget } from "./preview-budget";
import { prodPrimaryNeverSuspends } from "./prod-primary-never-suspends";
import { prodProtectStateful } from "./prod-protect-stateful";
import { prodReplicaRequired } from "./prod-replica-required";
import { redisForBullmq } from "./redis-for-bullmq";
import { workerStopTimeout } from "./worker-stop-timeout";

export const POLICIES: MetaPolicy[] = [
  hyperdrivePerWorker,
  connectionBudget,
  hyperdriveAccountBudget,
  previewBudget,
  analyticsOnReplica,
  prodReplicaRequired,
  prodPrimaryNeverSuspends,
  prodProtectStateful,
  kvTtlBounds,
  cacheTiers,
  cacheTierEdgeTtl,
  edgeCacheRuleHost,
  previewBranchTtl,
  redisForBullmq,
  workerStopTimeout,
  migrationsDirectEndpoint,
  leastPrivilegeRoles,
  noPlaintextSecrets,
];
