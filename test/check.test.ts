import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "./helpers/cli";
import { KNOWN_MANDATORY } from "./helpers/known-findings";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-check-"));
const failuresOf = (md: string) =>
  md.includes("### Failures")
    ? md
        .split("### Failures\n\n")[1]!
        .split("\n\n")[0]!
        .split("\n")
        .map((l) => l.replace(/^- /, ""))
    : [];
/** Failures other than today's known mandatory findings on the committed stacks. */
const unknownOf = (failures: string[]) =>
  failures.filter((f) => !KNOWN_MANDATORY.some((k) => f.startsWith(`policy ${k.policy} on ${k.stack} `)));

describe("check (the PR check, no credentials)", () => {
  it("passes on the committed stacks (but for today's known mandatory findings) and prints the Markdown summary", async () => {
    const r = await runCli(["check"]);
    const failures = failuresOf(r.stdout);
    // Exactly the known mandatory findings, each named with its policy and resource; none once they are fixed.
    expect(failures.map((f) => /^policy (\S+) on (\S+) \(\S+ (\S+)\)/.exec(f)?.slice(1).join(" ")).sort()).toEqual(
      KNOWN_MANDATORY.map((k) => `${k.policy} ${k.stack} ${k.resource}`).sort(),
    );
    expect(r.code).toBe(KNOWN_MANDATORY.length ? 1 : 0);
    expect(r.stdout).toMatch(/^## mauntic-infra check: (passed|FAILED)\n/);
    expect(r.stdout).toMatch(/Wall time \S+: plans \S+, policies \S+, squawk \S+, database \S+/);
    for (const stack of ["dev", "prod", "pr-42"]) expect(r.stdout).toContain(`### Stack \`${stack}\``);
    expect(r.stdout).toContain("| `cloudflare:index/hyperdriveConfig:HyperdriveConfig` | 6 |");
    expect(r.stdout).toMatch(/squawk: \d+ files, 0 issue\(s\)\./);
    expect(r.stdout).toMatch(
      /\| hourly-aggregation \| index-served \| idx_contact_activity_created_at \| [^|]+ \| \d+\.\d\d \| \d+ \|/,
    );
  }, 300_000);

  it("fails naming each cause: a migration squawk and the runner refuse, a policy that fires, a bad stack file", async () => {
    // A blocking CREATE INDEX: squawk names it, and the runner refuses it before anything runs (so no key query is
    // explained in this run: the lost index has its own run below).
    const dir = path.join(tmp, "migrations-blocking");
    fs.mkdirSync(dir);
    for (const f of fs.readdirSync(path.join(ROOT, "migrations")).filter((n) => n.endsWith(".sql")))
      fs.copyFileSync(path.join(ROOT, "migrations", f), path.join(dir, f));
    fs.writeFileSync(
      path.join(dir, "0008_contacts_email_blocking.sql"),
      "CREATE INDEX IF NOT EXISTS contacts_email_blocking_idx ON crm.contacts (email);\n",
    );
    const prod = path.join(tmp, "Pulumi.prod.yaml");
    fs.writeFileSync(
      prod,
      fs
        .readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")
        .replace(/originConnectionLimit: 20/g, "originConnectionLimit: 100"),
    );
    const dev = path.join(tmp, "Pulumi.dev.yaml");
    fs.writeFileSync(
      dev,
      fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").replace(/region: aws-us-east-2/, "region: mars-1"),
    );
    const summary = path.join(tmp, "summary.md");

    const r = await runCli([
      "check",
      "--migrations-dir",
      dir,
      "--config",
      `prod=${prod}`,
      "--config",
      `dev=${dev}`,
      "--summary-file",
      summary,
    ]);
    expect(r.code).toBe(1);
    const failures = failuresOf(r.stdout);
    expect(failures).toContainEqual(
      expect.stringMatching(/^squawk require-concurrent-index-creation in 0008_contacts_email_blocking\.sql: /),
    );
    expect(failures).toContainEqual(
      expect.stringMatching(
        /^database: .*0008_contacts_email_blocking\.sql:1: CREATE INDEX without CONCURRENTLY on crm\.contacts .*refused before anything runs/,
      ),
    );
    // Prod's configs at 100 each put the primary's clients past its 412 (the figure itself: test/plan.test.ts).
    expect(failures).toContainEqual(
      expect.stringMatching(
        /^policy connection-budget on prod \(pulumi-nodejs:dynamic\/neon:Endpoint mauntic-prod-neon-primary\): mauntic-prod-primary at its minimum 1 CU allows 412 connections .*its clients can open \d+: /,
      ),
    );
    // A stack file the schema refuses fails its plan with every problem on the line; the other plans still run.
    expect(failures).toContainEqual(
      expect.stringMatching(
        /^plan dev failed: invalid stack config \(Pulumi\.dev\.yaml\): config\.mauntic-infra:neon\.region: "mars-1" is not allowed/,
      ),
    );
    expect(unknownOf(failures)).toHaveLength(4); // nothing else: the runner refused before any key query ran
    expect(r.stderr).toMatch(/check failed: \d+ failure\(s\); first: /);
    expect(fs.readFileSync(summary, "utf8")).toBe(r.stdout);
  }, 300_000);

  it("fails naming a key query that lost its index (the explain gate), with nothing else wrong", async () => {
    const dir = path.join(tmp, "migrations-lost-index");
    fs.mkdirSync(dir);
    for (const f of fs.readdirSync(path.join(ROOT, "migrations")).filter((n) => n.endsWith(".sql"))) {
      // Without 0006 the hourly aggregation has no index on created_at.
      if (!f.startsWith("0006_")) fs.copyFileSync(path.join(ROOT, "migrations", f), path.join(dir, f));
    }
    const r = await runCli(["check", "--migrations-dir", dir]);
    expect(r.code).toBe(1);
    expect(unknownOf(failuresOf(r.stdout))).toEqual([
      expect.stringMatching(
        /^key query hourly-aggregation is not index-served: .*not served by idx_contact_activity_created_at/,
      ),
    ]);
  }, 300_000);

  it("refuses bad input with exit 2", async () => {
    expect((await runCli(["check", "--pr", "0"])).code).toBe(2);
    const r = await runCli(["check", "--config", "staging=x.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--config staging=x.yaml: expected <stack>=<file>");
  });
});
