/**
 * `.github/scripts/pr-comment.sh` against a fake `gh` on PATH that keeps a pull request's comments in a JSON file
 * and applies `--jq` with the real jq (gh's --jq is gojq, jq-compatible): the first run creates the comment, later
 * runs edit that one comment, and other users' comments that quote the marker are left alone.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli";

const SCRIPT = path.join(ROOT, ".github", "scripts", "pr-comment.sh");

// The fake gh: `api [--paginate] [--method M] <path> [--jq expr] [-f body=...]` over comments.json.
const FAKE_GH = String.raw`#!/usr/bin/env node
const fs = require("fs"); const path = require("path"); const { execFileSync } = require("child_process");
const dir = path.resolve(__dirname, ".."); const file = path.join(dir, "comments.json");
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls.jsonl"), JSON.stringify(args) + "\n");
const opt = (f) => { const i = args.indexOf(f); return i >= 0 ? args[i + 1] : undefined; };
const comments = JSON.parse(fs.readFileSync(file, "utf8"));
const method = opt("--method") || "GET";
const url = args.find((a, i) => i > 0 && a.startsWith("repos/"));
const body = (opt("-f") || "").replace(/^body=/, "");
let m;
if (args[0] !== "api") { process.stderr.write("fake gh: only api\n"); process.exit(1); }
if (method === "GET" && (m = /^repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(url))) {
  const out = JSON.stringify(comments.filter((c) => c.pr === Number(m[1])).map(({ pr, ...c }) => c));
  const jq = opt("--jq");
  process.stdout.write(jq ? execFileSync("jq", ["-r", jq], { input: out }) : out);
} else if (method === "POST" && (m = /^repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(url))) {
  comments.push({ id: 1000 + comments.length, pr: Number(m[1]), user: { login: "github-actions[bot]" }, body });
  fs.writeFileSync(file, JSON.stringify(comments));
} else if (method === "PATCH" && (m = /^repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(url))) {
  const c = comments.find((x) => x.id === Number(m[1])); c.body = body;
  fs.writeFileSync(file, JSON.stringify(comments));
} else { process.stderr.write("fake gh: unsupported " + JSON.stringify(args) + "\n"); process.exit(1); }
`;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gh-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "gh"), FAKE_GH, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "calls.jsonl"), "");
  // Someone quoting the marker in their own comment: never edited.
  fs.writeFileSync(
    path.join(dir, "comments.json"),
    JSON.stringify([{ id: 7, pr: 12, user: { login: "alice" }, body: "<!-- mauntic-infra:preview -->\nquoted" }]),
  );
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const comment = (pr: string, markdown: string) => {
  const file = path.join(dir, "preview.md");
  fs.writeFileSync(file, markdown);
  return execFileSync(SCRIPT, [pr, "<!-- mauntic-infra:preview -->", file], {
    env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, GITHUB_REPOSITORY: "mauntic/infra" },
    encoding: "utf8",
  });
};
const comments = () =>
  JSON.parse(fs.readFileSync(path.join(dir, "comments.json"), "utf8")) as {
    id: number;
    user: { login: string };
    body: string;
  }[];

// Needs jq on PATH (Debian's jq package; GitHub's runners have it).
describe("pr-comment.sh", () => {
  it("creates the comment once, then edits that one on each push", () => {
    expect(comment("12", "### Preview `pr-12` deployed\nfirst")).toMatch(/commented on #12/);
    expect(comment("12", "### Preview `pr-12` deployed\nsecond")).toMatch(/edited comment 1001 on #12/);
    const all = comments();
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({ id: 7, body: "<!-- mauntic-infra:preview -->\nquoted" });
    expect(all[1]).toMatchObject({
      id: 1001,
      body: "<!-- mauntic-infra:preview -->\n### Preview `pr-12` deployed\nsecond",
    });
  });

  it("refuses a pull request number that is not a number", () => {
    expect(() => comment("12; rm -rf /", "x")).toThrow(/not a pull request number/);
  });
});
