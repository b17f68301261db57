/**
 * A Pulumi CLI run in a workspace of its own: a file backend, PULUMI_HOME and passphrase in a temp dir, and a
 * project folder that links to the project (copies of its stack files, so nothing committed is touched). Used by
 * the end-to-end suites and by `npm start` when an engine is at hand.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT, engineEnv, type Engine } from "./locate";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface WorkspaceOptions {
  /** Environment the engine and every plugin it starts get (the stand-ins' URLs, credentials). */
  env?: NodeJS.ProcessEnv;
  /** Project folder (default: this checkout). */
  projectDir?: string;
}

/**
 * One state backend, PULUMI_HOME and project folder in a temp dir, shared by the stacks of one suite (stack
 * references work). The project folder holds copies of `Pulumi.yaml`, the stack files (the engine writes each
 * stack's `encryptionsalt` there, and the tests edit them) and the policy pack, and links to everything else, so nothing committed is
 * touched and the program still runs this checkout's code.
 */
export class EngineWorkspace {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-engine-"));
  readonly projectDir = path.join(this.dir, "project");
  env: NodeJS.ProcessEnv;

  constructor(
    readonly engine: Engine,
    opts: WorkspaceOptions = {},
  ) {
    const source = opts.projectDir ?? REPO_ROOT;
    fs.mkdirSync(this.projectDir);
    for (const entry of fs.readdirSync(source)) {
      if (entry === ".git" || entry === ".tmp") continue;
      const from = path.join(source, entry);
      if (/^Pulumi(\..+)?\.yaml$/.test(entry)) fs.copyFileSync(from, path.join(this.projectDir, entry));
      // The policy pack is copied: Node resolves a linked folder to its target, and the pack reads the stack files
      // next to it (no-plaintext-secrets), which must be this workspace's.
      else if (entry === "policies") {
        fs.cpSync(from, path.join(this.projectDir, entry), { recursive: true, filter: (f) => !f.endsWith(".test.ts") });
      } else fs.symlinkSync(from, path.join(this.projectDir, entry));
    }
    if (!fs.existsSync(path.join(this.projectDir, "node_modules"))) {
      fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(this.projectDir, "node_modules"));
    }
    fs.mkdirSync(path.join(this.dir, "state"));
    fs.mkdirSync(path.join(this.dir, "home"));
    this.env = {
      ...engineEnv(engine),
      PULUMI_BACKEND_URL: `file://${path.join(this.dir, "state")}`,
      PULUMI_HOME: path.join(this.dir, "home"),
      PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      NO_COLOR: "1",
      ...opts.env,
    };
  }

  /** A stack's config file in the project folder (the tests edit it to change a stack's config). */
  configFile(stack: string): string {
    return path.join(this.projectDir, `Pulumi.${stack}.yaml`);
  }

  /** Runs `pulumi <args>` for a stack (its `-s` added), in the project folder. */
  pulumi(
    stack: string | undefined,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
  ): Promise<RunResult> {
    const full = stack ? [...args, "-s", stack] : args;
    return run(path.join(this.engine.bin, "pulumi"), full, {
      cwd: this.projectDir,
      env: { ...this.env, ...opts.env },
      input: opts.input,
    });
  }

  /** Like `pulumi`, but throws with the engine's own output when the command fails. */
  async ok(
    stack: string | undefined,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
  ): Promise<RunResult> {
    const r = await this.pulumi(stack, args, opts);
    if (r.code !== 0) {
      throw new Error(
        `pulumi ${args.join(" ")}${stack ? ` -s ${stack}` : ""} exited ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`,
      );
    }
    return r;
  }

  async initStack(stack: string): Promise<void> {
    await this.ok(stack, ["stack", "init", "--secrets-provider", "passphrase"]);
  }

  /** `pulumi config set [--secret] <key> <value>` (the value on stdin, never in argv). */
  async setConfig(stack: string, key: string, value: string, opts: { secret?: boolean } = {}): Promise<void> {
    await this.ok(stack, ["config", "set", ...(opts.secret ? ["--secret"] : ["--plaintext"]), key], { input: value });
  }

  /** The JSON a `--json` command printed. */
  async json<T = unknown>(stack: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<T> {
    const r = await this.ok(stack, [...args, "--json"], opts);
    return JSON.parse(r.stdout) as T;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** The step counts of `pulumi preview|up|destroy --json` or an update summary: `{ create: 2, same: 40, ... }`. */
export function changeSummary(json: unknown): Record<string, number> {
  const j = json as { changeSummary?: Record<string, number>; resourceChanges?: Record<string, number> };
  return j.changeSummary ?? j.resourceChanges ?? {};
}
