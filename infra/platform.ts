/**
 * Composes one stack's platform from its validated config. Each provider folder contributes one component; the
 * order here is the data flow (Neon -> Cloudflare, Fly -> post-deploy migrations).
 */
import type { StackConfig } from "./config/schema";
import { buildCloudflare } from "./cloudflare";
import { buildFly } from "./fly/component";
import { NeonDatabase } from "./neon/component";
import { parseStackName, resourceName } from "./naming";
import { postDeployMigrations } from "./postdeploy";

export async function buildPlatform(stack: string, config: StackConfig): Promise<Record<string, unknown>> {
  const { kind } = parseStackName(stack);
  // Neon first: everything below points at its DatabaseConnection (`database`).
  const neon = new NeonDatabase(resourceName(stack, "neon"), { stack, config });
  const database = neon.connection;
  // Cloudflare: Hyperdrive on the Neon hosts and worker roles, KV, R2, cache headers, worker bindings.
  const cloudflare = buildCloudflare(stack, config, database, { dependsOn: [neon] });
  // Fly: Redis for BullMQ and the queue workers, whose DATABASE_URL is their own role on the Neon pooler.
  const fly = buildFly(stack, config, database, { dependsOn: [neon] });
  // Post-deploy: index migrations and worker grants, once the database and its roles exist.
  const migrations = postDeployMigrations(stack, config, database, { dependsOn: [neon] });
  return {
    stack,
    environment: config.environment,
    kind,
    ...neon.stackOutputs(),
    ...cloudflare,
    ...fly,
    migrationsChecksum: migrations.checksum,
  };
}
