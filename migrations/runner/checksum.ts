/**
 * One checksum over every migration file (names and bytes). The post-deploy step re-runs the runner when it
 * changes; kept apart from files.ts so the Pulumi program does not load the SQL parser.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The repository's migrations folder. */
export const MIGRATIONS_DIR = path.resolve(__dirname, "..");

export function migrationsChecksum(dir = MIGRATIONS_DIR): string {
  const hash = createHash("sha256");
  const files = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".sql"))
    .sort();
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.join(dir, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}
