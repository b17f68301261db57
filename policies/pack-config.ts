/**
 * The pack config per environment (`--policy-pack-config policies/config/<env>.json`), made from each policy's
 * metadata so the enforcement levels are written once. Rewrite the files after changing a policy's `enforcement`:
 *   npx tsx policies/pack-config.ts
 * (a test fails while they differ).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { POLICIES } from "./all";
import type { Environment } from "./lib";

export const ENVIRONMENTS: Environment[] = ["dev", "prod", "preview"];
export const configFile = (env: Environment) => path.join(__dirname, "config", `${env}.json`);

/** `{ "<policy>": "<level>" }`: levels only; each policy's own config keeps its schema defaults. */
export function packConfig(env: Environment): Record<string, string> {
  return Object.fromEntries(POLICIES.map((p) => [p.name, p.meta.enforcement[env]]));
}

export const render = (env: Environment) => `${JSON.stringify(packConfig(env), null, 2)}\n`;

if (require.main === module) {
  for (const env of ENVIRONMENTS) fs.writeFileSync(configFile(env), render(env));
}
