/**
 * The real Pulumi CLI for the end-to-end suites: a file backend and a passphrase in a temp dir, this checkout as the
 * project linked from a temp folder holding copies of its stack files, so nothing committed is touched.
 */
import { describe } from "vitest";
import { engineOrReason, type Engine } from "../../engine/locate";

export { EngineWorkspace, changeSummary, type RunResult, type WorkspaceOptions } from "../../engine/workspace";

/** `describe` when the engine is at hand; otherwise a skipped `describe` with the reason printed. */
export function describeWithEngine(name: string, fn: (engine: Engine) => void): void {
  const found = engineOrReason();
  if ("engine" in found) {
    describe(name, () => fn(found.engine));
  } else {
    process.stderr.write(`SKIPPED "${name}": ${found.reason}\n`);
    describe.skip(`${name} (skipped: ${found.reason})`, () => undefined);
  }
}

