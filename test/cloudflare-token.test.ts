/**
 * The README's one Cloudflare token section covers what the program declares: every Cloudflare resource type of the
 * dev, prod and preview plans (as `plan --json` prints them), each ruleset phase, and the preview emptier's calls.
 * The declared types come from the plans, never from a list here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../infra/offline/plan";
import { planJson, ROOT } from "./helpers/cli";

interface Row {
  permission: string;
  neededBy: string;
  source: string;
}

/** The rows between the README's `cloudflare-token` markers. */
function tokenRows(readme: string): Row[] {
  const m = /<!-- cloudflare-token:start -->\n([\s\S]*?)<!-- cloudflare-token:end -->/.exec(readme);
  if (!m) throw new Error("README has no cloudflare-token section");
  return m[1]!
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| Permission") && !/^\|[-| ]+\|$/.test(l))
    .map((l) => {
      const [permission, neededBy, source] = l.slice(2, -2).split(" | ");
      return { permission: permission!, neededBy: neededBy!, source: source! };
    });
}

/** What a plan asks of the token: Cloudflare types, `<type> (phase <p>)` per ruleset, `r2-empty` when it empties. */
function needs(plan: Plan): string[] {
  const out = new Set<string>();
  for (const r of plan.resources) {
    if (r.type.startsWith("cloudflare:")) out.add(`\`${r.type}\``);
    if (r.type === "cloudflare:index/ruleset:Ruleset") out.add(`phase \`${String(r.inputs.phase)}\``);
    if (r.type === "command:local:Command" && String(r.inputs.delete ?? "").includes(" r2-empty")) out.add("`r2-empty`");
  }
  return [...out].sort();
}

/** The needs no row covers. */
function uncovered(rows: Row[], wanted: string[]): string[] {
  return wanted.filter((w) => !rows.some((r) => r.neededBy.includes(w)));
}

const plans: Plan[] = [];
beforeAll(async () => {
  plans.push(...(await Promise.all(["dev", "prod", "pr-42"].map((s) => planJson(s)))));
});

describe("README: the Cloudflare API token", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const rows = tokenRows(readme);

  it("covers every Cloudflare type, ruleset phase and API call the plans declare", () => {
    const wanted = [...new Set(plans.flatMap(needs))].sort();
    // The plans declare Cloudflare resources of several kinds, both ruleset phases and a preview's emptier.
    expect(wanted).toEqual(expect.arrayContaining(["`r2-empty`", "phase `http_request_cache_settings`"]));
    expect(wanted.filter((w) => w.startsWith("`cloudflare:")).length).toBeGreaterThanOrEqual(5);
    expect(uncovered(rows, wanted)).toEqual([]);
  });

  it("a type the table does not name is reported", () => {
    const more = [...needs(plans[0]!), "`cloudflare:index/workersScript:WorkersScript`"];
    expect(uncovered(rows, more)).toEqual(["`cloudflare:index/workersScript:WorkersScript`"]);
    // Without the R2 row, the buckets, their lifecycle, CORS and domain, and the preview emptier are uncovered.
    const withoutR2 = uncovered(
      rows.filter((r) => !r.permission.includes("R2")),
      [...new Set(plans.flatMap(needs))],
    );
    expect(withoutR2.sort()).toEqual(
      [
        "`cloudflare:index/r2Bucket:R2Bucket`",
        "`cloudflare:index/r2BucketCors:R2BucketCors`",
        "`cloudflare:index/r2BucketLifecycle:R2BucketLifecycle`",
        "`cloudflare:index/r2CustomDomain:R2CustomDomain`",
        "`r2-empty`",
      ].sort(),
    );
  });

  it("each permission has a source, and the README has one token section the other lists point to", () => {
    for (const r of rows) {
      expect(r.permission, r.permission).toMatch(/^(Account|Zone) > .+ > (Edit|Read)$/);
      expect(r.source, r.permission).toMatch(/https:\/\/developers\.cloudflare\.com\//);
    }
    expect(readme.match(/<!-- cloudflare-token:start -->/g)).toHaveLength(1);
    expect(readme.match(/\(#cloudflare-api-token\)/g)?.length).toBeGreaterThanOrEqual(2);
  });
});
