/**
 * Postgres role names of a stack, without the Pulumi SDK (the CLI's rehearsal uses them too).
 */
import type { StackConfig } from "../config/schema";
import { cloudName, parseStackName } from "../naming";

/** Role names other than the workers'. */
export const MIGRATOR = "migrator";

/**
 * The migrator's role name. A preview's branch holds dev's tables, owned by dev's migrator: the preview connects as
 * that same role name, whose password the Neon Role provider resets on the preview's branch only (Neon roles belong
 * to a branch, "Manage roles"), so the preview owns what it migrates and never holds a password that opens dev.
 */
export function migratorRoleName(stack: string, config: StackConfig): string {
  const owner = parseStackName(stack).kind === "preview" ? config.preview.parentStack.split("/")[2]! : stack;
  return cloudName(owner, "pgRole", MIGRATOR);
}
