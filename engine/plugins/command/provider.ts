/**
 * Stand-in for the `command` provider plugin (pulumi-command v1.2.1, the @pulumi/command version the program
 * pins), serving `command:local:Command` only. The Go module proxy serves no version of
 * github.com/pulumi/pulumi-command/provider, so this reproduces the provider's semantics from its source
 * (github.com/pulumi/pulumi-command, tag v1.2.1, built on pulumi-go-provider v1.3.0's `infer`):
 * - create runs `create` (local/commandController.go Create); nothing runs in a preview, and stdout/stderr are
 *   unknown then (infer/resource.go markComputed: on create every output that does not mirror an input is
 *   computed in a preview; on update, when an input changed or is unknown);
 * - a change of any input is an update (infer Diff: the resource implements CustomUpdate, so only inputs tagged
 *   `replaceOnChanges` force a replacement), and `triggers` is the one so tagged (common/inputs.go); the SDK adds
 *   `replaceOnChanges: ["triggers[*]"]` too (@pulumi/command local/command.js);
 * - update runs `update`, or `create` when there is no `update` (Update); with neither, nothing runs;
 * - delete runs `delete` (Delete) with the previous stdout/stderr in PULUMI_COMMAND_STDOUT/STDERR unless
 *   `addPreviousOutputInEnv` is false (local/commandOutputs.go run: the same rule for update);
 * - `/bin/sh -c <command>` unless `interpreter` is given; `dir`, else the plugin's working directory (the program
 *   folder); the plugin's environment plus `environment`; `stdin` when non-empty (run);
 * - a non-zero exit fails the step with `exit status N: running "<command>":\n<stdout and stderr>` (run);
 * - stdout/stderr lose one trailing newline (run: strings.TrimSuffix);
 * - secrets: an output that mirrors an input keeps the input's secretness (so `environment` with a secret value
 *   stays secret); stdout/stderr are not made secret by a secret environment value (infer ensureDefaultSecrets:
 *   secretness flows only between same-named fields), which is why infra/postdeploy passes the URI in the
 *   environment and never prints it;
 * - no Read of its own: a refresh keeps the state as it is (infer's default Read).
 * - each output line is also a status line on the resource's row while the command runs (util.LogOutput:
 *   InfoStatus per line), stdout and stderr unless `logging` says otherwise (logging.go ShouldLogStdout/Stderr:
 *   both when unset).
 * Not reproduced: `assetPaths`/`archivePaths` (the program uses neither; asked for, check refuses them).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type * as dynamic from "@pulumi/pulumi/provider";
import type { EngineLog, PluginProvider } from "../serve";
import { containsUnknown, isUnknown, reveal, sameValue, UNKNOWN } from "../wire";

export const COMMAND_TYPE = "command:local:Command";
export const COMMAND_VERSION = "1.2.1";

/** Input names (@pulumi/command local/command.d.ts CommandArgs). */
export const COMMAND_INPUTS = [
  "addPreviousOutputInEnv",
  "archivePaths",
  "assetPaths",
  "create",
  "delete",
  "dir",
  "environment",
  "interpreter",
  "logging",
  "stdin",
  "triggers",
  "update",
] as const;

/** Inputs whose change replaces the Command (common/inputs.go: `provider:"replaceOnChanges"`). */
export const COMMAND_REPLACE_ON_CHANGES = ["triggers"];

const LOGGING = ["stdout", "stderr", "stdoutAndStderr", "none"];

export class CommandError extends Error {}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Which streams `logging` sends to the engine (local/logging.go: both when unset). */
function logged(logging: unknown): { stdout: boolean; stderr: boolean } {
  return {
    stdout: logging === undefined || logging === "stdout" || logging === "stdoutAndStderr",
    stderr: logging === undefined || logging === "stderr" || logging === "stdoutAndStderr",
  };
}

/** Calls `emit` once per complete line written to a stream, and once for a last unterminated line at `end`. */
function lineSplitter(emit: (line: string) => void) {
  let pending = "";
  return {
    write(chunk: Buffer) {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const l of lines) emit(l);
    },
    end() {
      if (pending !== "") emit(pending);
      pending = "";
    },
  };
}

/** local/commandOutputs.go `run`, minus assets. `log` receives the lines `logging` selects. */
export function runCommand(
  command: string,
  inputs: Record<string, unknown>,
  previous: RunResult | undefined,
  log: (line: string) => void = () => undefined,
): Promise<RunResult> {
  const interpreter = (inputs.interpreter as string[] | undefined)?.length
    ? (inputs.interpreter as string[])
    : ["/bin/sh", "-c"];
  const env: NodeJS.ProcessEnv = { ...process.env, ...((inputs.environment as Record<string, string>) ?? {}) };
  if (inputs.addPreviousOutputInEnv !== false && previous) {
    if (previous.stdout !== "") env.PULUMI_COMMAND_STDOUT = previous.stdout;
    if (previous.stderr !== "") env.PULUMI_COMMAND_STDERR = previous.stderr;
  }
  const cwd = (inputs.dir as string | undefined) ?? process.cwd();
  return new Promise((resolve, reject) => {
    const child = spawn(interpreter[0]!, [...interpreter.slice(1), command], { cwd, env, stdio: "pipe" });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const both: Buffer[] = [];
    const which = logged(inputs.logging);
    const outLines = lineSplitter(log);
    const errLines = lineSplitter(log);
    child.stdout.on("data", (c: Buffer) => {
      out.push(c);
      both.push(c);
      if (which.stdout) outLines.write(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      err.push(c);
      both.push(c);
      if (which.stderr) errLines.write(c);
    });
    child.on("error", (e) => reject(new CommandError(`${e.message}: running ${JSON.stringify(command)}:\n`)));
    child.on("close", (code, signal) => {
      outLines.end();
      errLines.end();
      if (code !== 0) {
        const status = signal ? `signal: ${signal}` : `exit status ${code}`;
        reject(new CommandError(`${status}: running ${JSON.stringify(command)}:\n${Buffer.concat(both).toString()}`));
        return;
      }
      const trim = (b: Buffer[]) => Buffer.concat(b).toString().replace(/\n$/, "");
      resolve({ stdout: trim(out), stderr: trim(err) });
    });
    const stdin = inputs.stdin as string | undefined;
    if (stdin) child.stdin.end(stdin);
    else child.stdin.end();
  });
}

function nameOf(urn: string): string {
  return urn.split("::").at(-1) ?? "command";
}

function inputsOf(state: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(COMMAND_INPUTS.filter((k) => k in state).map((k) => [k, state[k]]));
}

function typeFailures(news: Record<string, unknown>): dynamic.CheckFailure[] {
  const failures: dynamic.CheckFailure[] = [];
  const known = (k: string) => news[k] !== undefined && news[k] !== null && !containsUnknown(news[k]);
  for (const k of ["create", "update", "delete", "dir", "stdin"]) {
    if (known(k) && typeof reveal(news[k]) !== "string")
      failures.push({ property: k, reason: `${k} must be a string` });
  }
  for (const k of ["interpreter", "assetPaths", "archivePaths"]) {
    const v = reveal(news[k]);
    if (known(k) && !(Array.isArray(v) && v.every((x) => typeof x === "string"))) {
      failures.push({ property: k, reason: `${k} must be a list of strings` });
    }
  }
  if (known("environment")) {
    const env = reveal(news.environment);
    if (
      typeof env !== "object" ||
      Array.isArray(env) ||
      !Object.values(env as object).every((v) => typeof v === "string")
    ) {
      failures.push({ property: "environment", reason: "environment must be a map of strings" });
    }
  }
  if (known("logging") && !LOGGING.includes(reveal(news.logging) as string)) {
    failures.push({ property: "logging", reason: `logging must be one of ${LOGGING.join(", ")}` });
  }
  if (known("addPreviousOutputInEnv") && typeof reveal(news.addPreviousOutputInEnv) !== "boolean") {
    failures.push({ property: "addPreviousOutputInEnv", reason: "addPreviousOutputInEnv must be a boolean" });
  }
  for (const k of ["assetPaths", "archivePaths"]) {
    if (news[k] !== undefined) failures.push({ property: k, reason: `${k} is not supported by this stand-in plugin` });
  }
  for (const k of Object.keys(news)) {
    if (!(COMMAND_INPUTS as readonly string[]).includes(k) && !k.startsWith("__")) {
      failures.push({ property: k, reason: `unknown property ${k}` });
    }
  }
  return failures;
}

export function commandProvider(): PluginProvider {
  let engineLog: EngineLog = () => undefined;
  const logTo = (urn: string) => (line: string) => engineLog(urn, line);
  return {
    version: COMMAND_VERSION,

    attachLog(log) {
      engineLog = log;
    },

    async check(_urn, _olds, news) {
      const failures = typeFailures(news ?? {});
      return failures.length > 0 ? { inputs: news, failures } : { inputs: news };
    },

    // olds is the state; inputs are embedded in it (CommandOutputs embeds CommandInputs), which is what infer
    // compares when the engine does not send old inputs.
    async diff(_id, _urn, olds, news) {
      const changed = COMMAND_INPUTS.filter((k) => {
        const a = olds?.[k];
        const b = news?.[k];
        if (a === undefined && b === undefined) return false;
        return isUnknown(b) || containsUnknown(b) || !sameValue(a, b);
      });
      const replaces = changed.filter((k) => COMMAND_REPLACE_ON_CHANGES.includes(k));
      return { changes: changed.length > 0, replaces };
    },

    async create(urn, inputs, preview) {
      const id = `${nameOf(urn)}${randomBytes(4).toString("hex")}`;
      if (preview) return { id, outs: { ...inputs, stdout: UNKNOWN, stderr: UNKNOWN } };
      const plain = reveal<Record<string, unknown>>(inputs);
      const result = plain.create
        ? await runCommand(plain.create as string, plain, undefined, logTo(urn))
        : { stdout: "", stderr: "" };
      return { id, outs: { ...inputs, ...result } };
    },

    async read(id, _urn, props) {
      return { id, props, inputs: inputsOf(props ?? {}) };
    },

    async update(_id, urn, olds, news, preview) {
      const previous = { stdout: String(reveal(olds.stdout) ?? ""), stderr: String(reveal(olds.stderr) ?? "") };
      if (preview) {
        const anyChange = COMMAND_INPUTS.some((k) => containsUnknown(news[k]) || !sameValue(olds[k], news[k]));
        return { outs: { ...news, ...(anyChange ? { stdout: UNKNOWN, stderr: UNKNOWN } : previous) } };
      }
      const plain = reveal<Record<string, unknown>>(news);
      const command = (plain.update ?? plain.create) as string | undefined;
      const result = command ? await runCommand(command, plain, previous, logTo(urn)) : previous;
      return { outs: { ...news, ...result } };
    },

    async delete(_id, urn, props) {
      const plain = reveal<Record<string, unknown>>(props);
      if (!plain.delete) return;
      await runCommand(
        plain.delete as string,
        plain,
        { stdout: String(plain.stdout ?? ""), stderr: String(plain.stderr ?? "") },
        logTo(urn),
      );
    },
  };
}
