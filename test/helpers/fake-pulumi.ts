/**
 * A fake `pulumi` CLI for the Automation API: `PulumiCommand.get({ root })` runs `<root>/bin/pulumi`, so the tests
 * write this executable there. It records every invocation's arguments and answers the subcommands
 * `LocalWorkspace`/`Stack` run the way the CLI does (pulumi/pulumi `pkg/cmd/pulumi/stack/*.go`):
 * - `stack ls --json`: `[{name, current, lastUpdate?, updateInProgress, resourceCount, url}]`, sorted by name;
 * - `stack select` of a missing stack fails with "no stack named '<s>' found" (the Automation API's StackNotFoundError);
 * - `stack tag ls --json` is a JSON map; `stack tag set` validates names `[a-zA-Z0-9-_.:]{1,40}` and 256-char values;
 * - `stack output --json` masks secrets as "[secret]" unless `--show-secrets`;
 * - `up`/`destroy` change the resource count and outputs, and fail with the backend's 409 text on a locked stack;
 * - `stack rm` refuses a stack that still has resources (without `--force`);
 * - `preview` changes nothing; it fails (exit 255) with the policy findings it was told to report, printed as the
 *   CLI prints them (pkg/backend/display/diff.go), the way `pulumi preview --policy-pack` stops on a mandatory one.
 * Written by hand: no package fakes the Pulumi CLI, and the tests need its state between calls.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface FakeStack {
  /** The name `stack ls` prints (`pr-7`, `mauntic/pr-7`, ...). */
  name: string;
  tags: Record<string, string>;
  outputs: Record<string, unknown>;
  secretOutputs?: string[];
  resourceCount: number;
  lastUpdate?: string;
  updateInProgress?: boolean;
  /** What the next `up` leaves behind (else `FakeState.onUp` for the stack, else what it has). */
  onUp?: UpResult;
  /** `destroy` fails with this error (a provider that refuses, an expired credential). */
  failDestroy?: string;
}

export interface UpResult {
  outputs: Record<string, unknown>;
  resourceCount: number;
  fail?: string;
}

/** A policy finding a `preview` reports (with `--policy-pack`) for a stack. */
export interface PreviewFinding {
  policy: string;
  level: "mandatory" | "advisory";
  /** `<type>: <name>` of the resource, as the CLI prints it. */
  resource: string;
  message: string;
}

export interface FakeState {
  stacks: FakeStack[];
  current?: string;
  /** What `up` leaves behind for a stack made during the test, keyed by `pr-<N>`. */
  onUp?: Record<string, UpResult>;
  /** What `preview --policy-pack` reports for a stack, keyed by its name without organization (`pr-<N>`, `prod`). */
  onPreview?: Record<string, PreviewFinding[]>;
}

const SCRIPT = String.raw`#!/usr/bin/env node
// Fake pulumi CLI written by test/helpers/fake-pulumi.ts.
const fs = require("fs");
const path = require("path");
const root = path.resolve(__dirname, "..");
const statePath = path.join(root, "state.json");
const args = process.argv.slice(2);
fs.appendFileSync(path.join(root, "calls.jsonl"), JSON.stringify(args) + "\n");
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const save = () => fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
const fail = (msg) => { process.stderr.write("error: " + msg + "\n"); process.exit(255); };
const flag = (f) => { const i = args.indexOf(f); return i >= 0 ? args[i + 1] : undefined; };
const has = (f) => args.includes(f);
const positional = args.filter((a, i) => !a.startsWith("-") && !(i > 0 && ["--stack", "--exec-kind", "--page-size", "--page", "--event-log", "--message", "--policy-pack", "--policy-pack-config"].includes(args[i - 1])));
const last = (n) => n.split("/").pop();
const find = (n) => state.stacks.find((s) => s.name === n || last(s.name) === last(n) && (!n.includes("/") || s.name.endsWith(n) || n.endsWith(s.name)));
const need = (n) => { const s = find(n); if (!s) fail("no stack named '" + n + "' found"); return s; };
const out = (v) => process.stdout.write((typeof v === "string" ? v : JSON.stringify(v, null, 4)) + "\n");
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, ".000Z");
const [cmd, sub, sub2] = positional;

if (cmd === "version") out("v3.248.0");
else if (cmd === "stack" && sub === "ls") {
  out([...state.stacks].sort((a, b) => a.name.localeCompare(b.name)).map((s) => ({
    name: s.name, current: state.current === s.name,
    ...(s.lastUpdate && !s.updateInProgress ? { lastUpdate: s.lastUpdate } : {}),
    updateInProgress: !!s.updateInProgress, resourceCount: s.resourceCount,
    url: "https://app.pulumi.com/" + (s.name.includes("/") ? s.name.split("/")[0] : "mauntic") + "/mauntic-infra/" + last(s.name),
  })));
} else if (cmd === "stack" && sub === "select") { state.current = need(flag("--stack")).name; save(); }
else if (cmd === "stack" && sub === "init") {
  const n = positional[2];
  if (find(n)) fail("stack '" + n + "' already exists");
  state.stacks.push({ name: n, tags: {}, outputs: {}, resourceCount: 0 }); state.current = n; save();
} else if (cmd === "stack" && sub === "tag" && sub2 === "ls") { const s = need(flag("--stack")); state.current = s.name; save(); out(s.tags); }
else if (cmd === "stack" && sub === "tag" && sub2 === "set") {
  const s = need(flag("--stack")); const [k, v] = positional.slice(3);
  if (!/^[a-zA-Z0-9-_.:]{1,40}$/.test(k)) fail("stack tag names may only contain alphanumerics, hyphens, underscores, periods, or colons");
  if (v.length > 256) fail("stack tag " + JSON.stringify(k) + " value is too long (max length 256 characters)");
  s.tags[k] = v; save();
} else if (cmd === "stack" && sub === "output") {
  const s = need(flag("--stack")); const show = has("--show-secrets");
  out(Object.fromEntries(Object.entries(s.outputs).map(([k, v]) => [k, !show && (s.secretOutputs || []).includes(k) ? "[secret]" : v])));
} else if (cmd === "stack" && sub === "history") { const s = need(flag("--stack")); out(s.lastUpdate ? [{ kind: "update", result: "succeeded", startTime: s.lastUpdate, endTime: s.lastUpdate, version: 1 }] : []); }
else if (cmd === "stack" && sub === "rm") {
  const n = positional[2]; const s = need(n);
  if (s.resourceCount > 0 && !has("--force")) fail("'" + n + "' still has resources; removal rejected. Possible actions:\n- Make sure that '" + n + "' is the correct stack to remove\n- Run 'pulumi destroy' to delete the resources, then run 'pulumi stack rm'\n- Run 'pulumi stack rm --force' to override this error");
  state.stacks = state.stacks.filter((x) => x !== s); save();
} else if (cmd === "up") {
  const s = need(flag("--stack"));
  if (s.updateInProgress) fail("[409] Conflict: Another update is currently in progress.");
  const next = s.onUp || (state.onUp || {})[last(s.name)] || { outputs: s.outputs, resourceCount: s.resourceCount };
  if (next.fail) fail(next.fail);
  s.outputs = next.outputs; s.resourceCount = next.resourceCount; s.lastUpdate = now(); save();
  out("Updating (" + s.name + "):\n\nResources:\n    " + s.resourceCount + " unchanged");
} else if (cmd === "preview") {
  const s = need(flag("--stack"));
  const findings = has("--policy-pack") ? ((state.onPreview || {})[last(s.name)] || []) : [];
  out("Previewing update (" + s.name + "):\n\nResources:\n    " + s.resourceCount + " unchanged");
  if (findings.length) {
    out("\nPolicies:\n    " + (findings.some((f) => f.level === "mandatory") ? "❌" : "⚠️") + " mauntic-infra@v0.1.0 (local: " + flag("--policy-pack") + ")");
    for (const f of findings) out("        - [" + f.level + "]  " + f.policy + "  (" + f.resource + ")\n          " + f.message);
  }
  if (findings.some((f) => f.level === "mandatory")) fail("preview failed: one or more policy violations");
} else if (cmd === "destroy") {
  const s = need(flag("--stack"));
  if (s.updateInProgress) fail("[409] Conflict: Another update is currently in progress.");
  if (s.failDestroy) fail(s.failDestroy);
  s.outputs = {}; s.resourceCount = 0; s.lastUpdate = now(); save();
  out("Destroying (" + s.name + "):\n\nResources:\n    deleted");
} else fail("fake pulumi: unsupported command " + JSON.stringify(args));
`;

export class FakePulumi {
  readonly root: string;

  constructor(state: FakeState) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "fake-pulumi-"));
    fs.mkdirSync(path.join(this.root, "bin"));
    fs.writeFileSync(path.join(this.root, "bin", "pulumi"), SCRIPT, { mode: 0o755 });
    fs.writeFileSync(path.join(this.root, "calls.jsonl"), "");
    this.state = state;
  }

  get state(): FakeState {
    return JSON.parse(fs.readFileSync(path.join(this.root, "state.json"), "utf8")) as FakeState;
  }

  set state(s: FakeState) {
    fs.writeFileSync(path.join(this.root, "state.json"), JSON.stringify(s, null, 2));
  }

  /** Every invocation's arguments, in order (without the `--non-interactive` the Automation API appends). */
  calls(): string[][] {
    return fs
      .readFileSync(path.join(this.root, "calls.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as string[]).filter((a) => a !== "--non-interactive"));
  }

  /** Calls that change the backend (anything but reads). */
  writes(): string[][] {
    return this.calls().filter(
      (c) =>
        c[0] === "up" ||
        c[0] === "destroy" ||
        (c[0] === "stack" && ["init", "rm"].includes(c[1]!)) ||
        (c[0] === "stack" && c[1] === "tag" && c[2] !== "ls"),
    );
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
