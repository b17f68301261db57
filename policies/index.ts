/**
 * The CrossGuard policy pack: `pulumi preview --policy-pack policies --policy-pack-config policies/config/<env>.json`.
 * The Pulumi CLI runs this file from this folder; constructing the pack starts its analyzer (a gRPC server) and
 * reads the version from ./package.json. The policies themselves live in ./all.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./all";

new PolicyPack("mauntic-infra", {
  description: "The rules the Mauntic3 platform lives by: connections, budgets, replicas, protection, caches, secrets",
  policies: POLICIES,
});
