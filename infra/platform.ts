/**
 * Composes one stack's platform from its validated config. Each provider folder contributes one component; the
 * order here is the data flow (Neon -> Cloudflare, Fly -> post-deploy migrations).
 */
import type { StackConfig } from "./config/schema";
import { parseStackName } from "./naming";

export async function buildPlatform(stack: string, config: StackConfig): Promise<Record<string, unknown>> {
  const { kind } = parseStackName(stack);
  return {
    stack,
    environment: config.environment,
    kind,
  };
}
