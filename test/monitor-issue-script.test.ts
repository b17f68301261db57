/**
 * `.github/scripts/monitor-issue.sh` against a fake `gh` on PATH that keeps the repository's issues in a JSON file
 * and applies `--jq` with the real jq (gh's --jq is gojq, jq-compatible): findings open one issue per stack, later
 * findings edit that issue, a clean run closes it, and issues of the other stack or of people are left alone.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli";

const SCRIPT = path.join(ROOT, ".github", "scripts", "monitor-issue.sh");

// The fake gh: `api [--method M] <path> [--jq expr] [-f k=v ...]` over issues.json (GitHub's REST shapes).
const FAKE_GH = String.raw`#!/usr/bin/env node
const fs = require("fs"); const path = require("path"); const { execFileSync } = require("child_process");
const dir = path.resolve(__dirname, ".."); const file = path.join(dir, "issues.json");
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls.jsonl"), JSON.stringify(args) + "\n");
const opt = (f) => { const i = args.indexOf(f); return i >= 0 ? args[i + 1] : undefined; };
const fields = {}; args.forEach((a, i) => { if (args[i - 1] === "-f") { const k = a.slice(0, a.indexOf("=")); const v = a.slice(a.indexOf("=") + 1);
  if (k.endsWith("[]")) (fields[k.slice(0, -2)] ??= []).push(v); else fields[k] = v; } });
const db = JSON.parse(fs.readFileSync(file, "utf8"));
const save = () => fs.writeFileSync(file, JSON.stringify(db));
const method = opt("--method") || "GET";
const url = args.find((a, i) => i > 0 && a.startsWith("repos/"));
let m;
if (args[0] !== "api") { process.stderr.write("fake gh: only api\n"); process.exit(1); }
if (method === "GET" && (m = /^repos\/[^/]+\/[^/]+\/issues\?(.*)$/.exec(url))) {
  const q = new URLSearchParams(m[1]);
  const out = JSON.stringify(db.issues.filter((i) => i.state === q.get("state") && i.labels.some((l) => l.name === q.get("labels"))));
  const jq = opt("--jq");
  process.stdout.write(jq ? execFileSync("jq", ["-r", jq], { input: out }) : out);
} else if (method === "POST" && /^repos\/[^/]+\/[^/]+\/labels$/.test(url)) {
  if (db.labels.includes(fields.name)) { process.stderr.write("gh: Validation Failed (HTTP 422)\n"); process.exit(1); }
  db.labels.push(fields.name); save();
} else if (method === "POST" && /^repos\/[^/]+\/[^/]+\/issues$/.test(url)) {
  if (!fields.labels.every((l) => db.labels.includes(l))) { process.stderr.write("fake gh: unknown label\n"); process.exit(1); }
  db.issues.push({ number: 100 + db.issues.length, state: "open", title: fields.title, body: fields.body,
    user: { login: "github-actions[bot]" }, labels: fields.labels.map((name) => ({ name })), comments: [] }); save();
} else if (method === "PATCH" && (m = /^repos\/[^/]+\/[^/]+\/issues\/(\d+)$/.exec(url))) {
  const i = db.issues.find((x) => x.number === Number(m[1])); Object.assign(i, fields); save();
} else if (method === "POST" && (m = /^repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(url))) {
  db.issues.find((x) => x.number === Number(m[1])).comments.push(fields.body); save();
} else { process.stderr.write("fake gh: unsupported " + JSON.stringify(args) + "\n"); process.exit(1); }
`;

interface Issue {
  number: number;
  state: string;
  title: string;
  body: string;
  state_reason?: string;
  user: { login: string };
  labels: { name: string }[];
  comments: string[];
  pull_request?: unknown;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gh-issues-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "gh"), FAKE_GH, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "calls.jsonl"), "");
  // A person's issue carrying the label: never edited or closed by the monitor.
  const human: Issue = {
    number: 7,
    state: "open",
    title: "Pool sizes on prod?",
    body: "question",
    user: { login: "alice" },
    labels: [{ name: "monitor:prod" }],
    comments: [],
  };
  fs.writeFileSync(path.join(dir, "issues.json"), JSON.stringify({ labels: ["monitor:prod"], issues: [human] }));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const run = (stack: string, report: string, code: string) => {
  const file = path.join(dir, "report.md");
  fs.writeFileSync(file, report);
  return spawnSync(SCRIPT, [stack, file, code], {
    env: {
      ...process.env,
      PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
      GITHUB_REPOSITORY: "mauntic/infra",
      GITHUB_RUN_ID: "42",
    },
    encoding: "utf8",
  });
};
const issues = () => (JSON.parse(fs.readFileSync(path.join(dir, "issues.json"), "utf8")) as { issues: Issue[] }).issues;
const bots = () => issues().filter((i) => i.user.login === "github-actions[bot]");

describe("monitor-issue.sh: one open issue per stack while findings last", () => {
  it("jq is there (the fake applies --jq with it)", () => {
    expect(execFileSync("jq", ["--version"], { encoding: "utf8" })).toMatch(/^jq-/);
  });

  it("findings open one issue, more findings edit it, a clean run comments and closes it", () => {
    let r = run("prod", "## Monitor: stack prod\n**1 finding(s)**: pool\n", "1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("opened an issue: findings on prod\n");
    expect(bots()).toEqual([
      expect.objectContaining({
        state: "open",
        title: "Monitor: findings on prod",
        labels: [{ name: "monitor:prod" }],
        body: expect.stringMatching(
          /^## Monitor: stack prod\n\*\*1 finding\(s\)\*\*: pool\n\n\[Last run\]\(https:\/\/github\.com\/mauntic\/infra\/actions\/runs\/42\)$/,
        ),
      }),
    ]);
    const number = bots()[0]!.number;

    r = run("prod", "## Monitor: stack prod\n**2 finding(s)**: pool, redis\n", "1");
    expect(r.stdout).toBe(`updated #${number}: findings on prod\n`);
    expect(bots()).toHaveLength(1);
    expect(bots()[0]!.body).toMatch(/\*\*2 finding\(s\)\*\*: pool, redis/);

    r = run("prod", "## Monitor: stack prod\nNo findings.\n", "0");
    expect(r.stdout).toBe(`closed #${number}: no findings on prod\n`);
    expect(bots()[0]).toMatchObject({
      state: "closed",
      state_reason: "completed",
      comments: [expect.stringMatching(/^Cleared: no findings on prod/)],
    });
    // The person's issue with the same label is untouched.
    expect(issues().find((i) => i.number === 7)).toMatchObject({ state: "open", body: "question" });

    // Findings again later: a new issue (the closed one stays closed).
    run("prod", "**1 finding(s)**: volumes\n", "1");
    expect(bots().map((i) => i.state)).toEqual(["closed", "open"]);
  });

  it("each stack has its own issue and label; a clean dev never closes prod's", () => {
    run("prod", "prod findings\n", "1");
    run("dev", "dev findings\n", "1");
    expect(bots().map((i) => [i.title, i.labels[0]!.name, i.state])).toEqual([
      ["Monitor: findings on prod", "monitor:prod", "open"],
      ["Monitor: findings on dev", "monitor:dev", "open"],
    ]);
    expect(run("dev", "No findings.\n", "0").stdout).toMatch(/^closed #\d+: no findings on dev\n$/);
    expect(bots().map((i) => i.state)).toEqual(["open", "closed"]);
  });

  it("a clean run with no open issue changes nothing; a failed monitor is reported in the issue", () => {
    expect(run("dev", "No findings.\n", "0").stdout).toBe("no findings on dev, no open issue\n");
    expect(bots()).toEqual([]);
    run("dev", "", "2");
    expect(bots()[0]!.body).toMatch(/^The monitor itself failed on dev \(exit 2\)/);
  });

  it("refuses a stack that is not dev or prod", () => {
    const r = run("pr-12", "x", "1");
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("monitor-issue: 'pr-12' is not dev or prod\n");
  });
});
