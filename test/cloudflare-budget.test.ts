import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { entrySettings, hyperdriveBudget, hyperdriveLayout, sharedSettings } from "../infra/cloudflare/budget";
import { checkZoneOwnership, committedClaims } from "../infra/cloudflare/zone-ownership";
import { ConfigError } from "../infra/config/errors";
import { committedStacks, loadStackConfigFromFile, PROJECT_DIR } from "../infra/config/load";

const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A project dir holding copies of the committed stack files, each edited by `edit`. */
function project(files: Record<string, (doc: Record<string, any>) => void>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-cf-"));
  tmpDirs.push(dir);
  for (const [stack, edit] of Object.entries(files)) {
    const from = ["dev", "prod"].includes(stack) ? stack : "dev";
    const doc = YAML.parse(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${from}.yaml`), "utf8"));
    edit(doc.config);
    fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), YAML.stringify(doc));
  }
  return dir;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("Hyperdrive layout and the account budget", () => {
  it("dev and prod: one config per database worker plus one per replica reader (6 each)", () => {
    for (const stack of ["dev", "prod"]) {
      const layout = hyperdriveLayout(stack, loadStackConfigFromFile(stack));
      expect(layout.map((e) => [e.name, e.role, e.workers])).toEqual([
        [`mauntic-${stack}-identity-db`, "primary", ["identity"]],
        [`mauntic-${stack}-crm-db`, "primary", ["crm"]],
        [`mauntic-${stack}-delivery-db`, "primary", ["delivery"]],
        [`mauntic-${stack}-analytics-db`, "primary", ["analytics"]],
        [`mauntic-${stack}-analytics-replica-db`, "replica", ["analytics"]],
        [`mauntic-${stack}-journey-db`, "primary", ["journey"]],
      ]);
    }
  });

  it("a preview stack declares one shared config bound by every database worker", () => {
    const layout = hyperdriveLayout("pr-42", loadStackConfigFromFile("pr-42"));
    expect(layout).toEqual([
      {
        name: "mauntic-pr-42-shared-db",
        role: "shared",
        workers: ["identity", "crm", "delivery", "analytics", "journey"],
      },
    ]);
  });

  it("the shared config takes the strictest settings: caching off when any worker turns it off", () => {
    const cfg = loadStackConfigFromFile("pr-42");
    const dbs = Object.values(cfg.workers).flatMap((w) => (w.database ? [w.database] : []));
    expect(sharedSettings(dbs)).toMatchObject({ caching: { enabled: false }, originConnectionLimit: 10 });
    const cached = dbs.filter((d) => d.hyperdrive.caching.enabled);
    expect(sharedSettings(cached).caching).toEqual({
      enabled: true,
      maxAgeSeconds: 60,
      staleWhileRevalidateSeconds: 15,
    });
  });

  it("each config's settings as deployed, for every reader (program, monitor): a preview's shared config does not cache while one worker does not; a worker's own config is its own", () => {
    const pr = loadStackConfigFromFile("pr-42");
    const [shared] = hyperdriveLayout("pr-42", pr);
    expect(entrySettings(pr, shared!).caching.enabled).toBe(false);
    const dev = loadStackConfigFromFile("dev");
    const crm = hyperdriveLayout("dev", dev).find((e) => e.workers[0] === "crm" && e.role === "primary")!;
    expect(entrySettings(dev, crm)).toBe(dev.workers.crm!.database!.hyperdrive);
  });

  it("the budget: dev 6 + prod 6 of 25, one config per preview, 13 preview slots", () => {
    const budget = hyperdriveBudget("pr-42", loadStackConfigFromFile("pr-42"));
    expect(budget).toMatchObject({
      accountLimit: 25,
      thisStack: 1,
      committed: { dev: 6, prod: 6 },
      committedTotal: 12,
      previewConfigsEach: 1,
      previewSlots: 13,
    });
    expect(hyperdriveBudget("dev", loadStackConfigFromFile("dev"))).toMatchObject({ thisStack: 6, previewSlots: 13 });
  });

  it("committed stacks over the account limit fail the plan with the breakdown", () => {
    const dir = project({
      dev: (c) => (c["mauntic-infra:cloudflare"].plan = "free"),
      prod: (c) => (c["mauntic-infra:cloudflare"].plan = "free"),
    });
    const cfg = loadStackConfigFromFile("dev", { configFile: path.join(dir, "Pulumi.dev.yaml") });
    const e = configError(() => hyperdriveBudget("dev", cfg, committedStacks(dir)));
    expect(e.message).toMatch(/declare 12 Hyperdrive configs in account \w+ \(dev 6 \+ prod 6\) \(allowed: at most 10/);
  });

  it("a preview with no config left fails, naming what uses the account", () => {
    const dir = project({
      dev: (c) => {
        c["mauntic-infra:cloudflare"].plan = "free";
        // 5 database workers, no replica reader = 5, and prod 5 more: 10 of 10.
        c["mauntic-infra:workers"].analytics.database.readsReplica = false;
      },
      prod: (c) => {
        c["mauntic-infra:cloudflare"].plan = "free";
        c["mauntic-infra:workers"].analytics.database.readsReplica = false;
      },
    });
    const cfg = loadStackConfigFromFile("pr-7", { configFile: path.join(dir, "Pulumi.dev.yaml") });
    const e = configError(() => hyperdriveBudget("pr-7", cfg, committedStacks(dir)));
    expect(e.message).toMatch(/no Hyperdrive config left for preview pr-7 .*dev 5 \+ prod 5 use 10 of 10/);
  });
});

describe("zone ownership of the response-header ruleset", () => {
  it("the committed files: dev owns mauntic.dev, prod owns mauntic.io", () => {
    expect(committedClaims().map((c) => [c.source, c.zoneName])).toEqual([
      ["Pulumi.dev.yaml", "mauntic.dev"],
      ["Pulumi.prod.yaml", "mauntic.io"],
    ]);
    expect(() => checkZoneOwnership("pr-42", loadStackConfigFromFile("pr-42"))).not.toThrow();
  });

  it("two stack files claiming one zone: a ConfigError naming both files and the zone", () => {
    const prod = loadStackConfigFromFile("prod");
    const dir = project({
      dev: (c) => (c["mauntic-infra:cloudflare"].zone = { ...prod.cloudflare.zone }),
      prod: () => {},
    });
    const e = configError(() => checkZoneOwnership("prod", prod, committedStacks(dir)));
    expect(e.message).toContain(
      `zone mauntic.io (${prod.cloudflare.zone.zoneId}) is claimed by Pulumi.dev.yaml and Pulumi.prod.yaml`,
    );
    expect(e.message).toContain("allowed: true in exactly one stack file per zone");
    expect(e.source).toBe("Pulumi.dev.yaml, Pulumi.prod.yaml");
    // Every stack's plan fails while the conflict is committed, previews included.
    expect(() =>
      checkZoneOwnership(
        "pr-3",
        loadStackConfigFromFile("pr-3", { configFile: path.join(dir, "Pulumi.dev.yaml") }),
        committedStacks(dir),
      ),
    ).toThrow(ConfigError);
  });

  it("a config in hand that is not its committed file is named as such", () => {
    const prod = loadStackConfigFromFile("prod");
    const dev = loadStackConfigFromFile("dev");
    const claimed = { ...dev, cloudflare: { ...dev.cloudflare, zone: { ...prod.cloudflare.zone } } };
    const e = configError(() => checkZoneOwnership("dev", claimed));
    expect(e.message).toMatch(/claimed by Pulumi\.prod\.yaml and the config given for stack dev/);
  });

  it("a stack that gives up ownership resolves the conflict", () => {
    const prod = loadStackConfigFromFile("prod");
    const dir = project({
      dev: (c) => {
        c["mauntic-infra:cloudflare"].zone = { ...prod.cloudflare.zone };
        c["mauntic-infra:cloudflare"].ownsResponseHeaderRuleset = false;
      },
      prod: () => {},
    });
    expect(checkZoneOwnership("prod", prod, committedStacks(dir)).map((c) => c.source)).toEqual(["Pulumi.prod.yaml"]);
  });
});
