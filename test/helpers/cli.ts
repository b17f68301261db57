/**
 * Runs the `mauntic-infra` CLI in a child process, as a user would. Suites that run the Pulumi program go through
 * here: dynamic providers must be serialized under CommonJS, which vitest's transform is not.
 */
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [path.join(ROOT, "infra", "cli", "main.ts"), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, FORCE_COLOR: "0", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/**
 * `plan --json` for a stack, parsed; throws with stderr when the plan fails. A plan with a mandatory policy violation
 * exits 1 but is still the plan: suites that read what a stack declares get it (test/plan.test.ts checks the exit).
 */
export async function planJson(stack: string, extra: string[] = []) {
  const r = await runCli(["plan", "--stack", stack, "--json", ...extra]);
  const plan = r.code === 0 || r.code === 1 ? tryParse(r.stdout) : undefined;
  const vetoed = r.code === 1 && plan?.violations.some((v) => v.enforcement === "mandatory");
  if (!plan || (r.code !== 0 && !vetoed)) throw new Error(`plan ${stack} exited ${r.code}: ${r.stderr}`);
  return plan;
}

function tryParse(text: string): import("../../infra/offline/plan").Plan | undefined {
  try {
    return JSON.parse(text) as import("../../infra/offline/plan").Plan;
  } catch {
    return undefined;
  }
}

/**
 * Runs a script from test/fixtures under tsx (CommonJS, as Pulumi runs the program) and returns the JSON of its
 * last stdout line: how suites that need Pulumi's closure serializer or mocks get their results.
 */
export function runTsxFixture<T>(fixture: string, env: NodeJS.ProcessEnv = {}): T {
  const run = spawnSync(TSX, [path.join(ROOT, "test", "fixtures", fixture)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`${fixture} exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as T;
}
