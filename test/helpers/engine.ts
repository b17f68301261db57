/**
 * The real Pulumi CLI for the end-to-end suites: a file backend and a passphrase in a temp dir, this checkout as the
 * project linked from a temp folder holding copies of its stack files, so nothing committed is touched.
 */
import { describe } from "vitest";
import { findEngine, type Engine } from "../../engine/locate";

export { EngineWorkspace, changeSummary, type RunResult, type WorkspaceOptions } from "../../engine/workspace";

/** The engine for the tests, or why there is none (printed by `describeWithEngine`, never a silent skip). */
export function testEngine(): { engine: Engine } | { reason: string } {
  try {
    const engine = findEngine();
    if (engine) return { engine };
    return { reason: "no Pulumi CLI on PATH and no engine build: run `npm run engine` (engine/README.md)" };
  } catch (e) {
    return { reason: `the Pulumi CLI did not answer \`pulumi version\`: ${(e as Error).message}` };
  }
}

/** `describe` when the engine is at hand; otherwise a skipped `describe` with the reason printed. */
export function describeWithEngine(name: string, fn: (engine: Engine) => void): void {
  const found = testEngine();
  if ("engine" in found) {
    describe(name, () => fn(found.engine));
  } else {
    process.stderr.write(`SKIPPED "${name}": ${found.reason}\n`);
    describe.skip(`${name} (skipped: ${found.reason})`, () => undefined);
  }
}

