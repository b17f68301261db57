import { describe, expect, it } from "vitest";
import {
  connectionBudget,
  maxConnections,
  MIGRATOR_CONNECTIONS,
  PG_POOL_DEFAULT_MAX,
  poolSize,
  RESERVED_CONNECTIONS,
} from "./connection-budget";
import { isFly } from "./lib";
import { extraResource, named, plain, planOf, previewPlanOf, STACKS, verdicts } from "./testing";

type Plan = ReturnType<typeof planOf>;
/** The Fly queue workers' machines whose app has DATABASE_URL in its secrets (branch fly: one pool each). */
function dbMachines(plan: Plan) {
  const apps = plan
    .filter((r) => isFly(r.type, "Secrets"))
    .filter((s) => plain(plain(s.outputs.values)).DATABASE_URL !== undefined)
    .map((s) => s.outputs.app_name);
  return plan.filter((r) => isFly(r.type, "Machine") && apps.includes(r.outputs.app_name));
}
/** pr-42 with its shared Hyperdrive config going direct (every connection a backend) with `limit` connections. */
function previewDirect(limit: number): Plan {
  const plan = planOf("pr-42");
  const shared = named(plan, "mauntic-pr-42-shared-db");
  const origin = plain(shared.outputs.origin);
  origin.host = String(origin.host).replace("-pooler.", ".");
  shared.outputs.originConnectionLimit = limit;
  return plan;
}
// pr-42's primary at its minimum 0.25 CU: 104 - 7 = 97 connections for the shared config, the migrator and the Fly
// workers' pools (each through the pooler as its own role: far under its 93-backend pool).
const ALLOWED = maxConnections(0.25) - RESERVED_CONNECTIONS;
const FLY = dbMachines(planOf("pr-42")).length * PG_POOL_DEFAULT_MAX;
const FITS = ALLOWED - MIGRATOR_CONNECTIONS - FLY; // what the shared config may hold, direct

describe("connection-budget", () => {
  it("pins Neon's max_connections per compute size (neon.com/docs/connect/connection-pooling)", () => {
    expect([0.25, 0.5, 1, 2, 4, 8, 9, 16].map(maxConnections)).toEqual([104, 209, 419, 839, 1678, 3357, 4000, 4000]);
    expect(poolSize(0.25)).toBe(93);
    expect(ALLOWED).toBe(97);
    expect(FLY).toBe(40); // the preview's 4 queue workers, 1 machine each, node-postgres' default pool
  });

  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(connectionBudget, planOf(stack))).toEqual([]);
  });

  it("fires on a preview at 0.25 CU whose shared config goes direct one connection past the budget", async () => {
    expect(await verdicts(connectionBudget, previewDirect(FITS))).toEqual([]); // exactly 97
    const plan = previewDirect(FITS + 1);
    const v = await verdicts(connectionBudget, plan);
    expect(v).toHaveLength(1);
    expect(v[0]!.message).toMatch(
      new RegExp(
        "^mauntic-pr-42-primary at its minimum 0.25 CU allows 97 connections \\(max_connections 104 - 7 reserved\\); " +
          `its clients can open 98: Hyperdrive mauntic-pr-42-shared-db ${FITS + 1} as mauntic_dev_migrator, the migrator 2 as mauntic_dev_migrator, `,
      ),
    );
    expect(v[0]!.urn).toBe(named(plan, "mauntic-pr-42-neon-primary").urn);
  });

  it("through the pooler a role's backends stop at its pool (90% of max_connections); direct ones add up", async () => {
    const plan = planOf("pr-42");
    const shared = named(plan, "mauntic-pr-42-shared-db");
    shared.outputs.originConnectionLimit = 500; // pooled, as mauntic_dev_migrator: 93 backends at most
    const v = await verdicts(connectionBudget, plan);
    // 93 for the pool, plus the migrator's 2 direct as the same role (not pooled), plus the Fly workers' pools.
    expect(v.map((x) => x.message)).toEqual([
      expect.stringContaining(
        `its clients can open ${poolSize(0.25) + MIGRATOR_CONNECTIONS + FLY}: Hyperdrive mauntic-pr-42-shared-db 500 as mauntic_dev_migrator`,
      ),
    ]);
    // The pool is per user and database: the same role on a second database is another pool of its own.
    const other = structuredClone(shared);
    other.urn = `${other.urn}-other`;
    other.outputs.name = "mauntic-pr-42-other-db";
    plain(other.outputs.origin).database = "other";
    other.outputs.originConnectionLimit = 5;
    expect((await verdicts(connectionBudget, [...plan, other])).map((x) => x.message)).toEqual([
      expect.stringContaining(`its clients can open ${poolSize(0.25) + 5 + MIGRATOR_CONNECTIONS + FLY}: `),
    ]);
    // Below the pool the clients count one for one.
    shared.outputs.originConnectionLimit = 10;
    expect(await verdicts(connectionBudget, plan)).toEqual([]);
  });

  it("counts each Fly worker machine's pool (node-postgres default 10) for its app's DATABASE_URL secret", async () => {
    const plan = previewDirect(FITS);
    expect(await verdicts(connectionBudget, plan)).toEqual([]); // FITS + 2 + 40 = 97
    // A second machine of the real delivery-sender app, its pool set by DATABASE_POOL_MAX.
    const app = "mauntic-pr-42-delivery-sender";
    const first = dbMachines(plan).find((m) => m.outputs.app_name === app)!;
    const second = extraResource("pr-42", first.type, `mauntic-pr-42-fly-delivery-sender-machine-1`, {
      ...structuredClone(first.outputs),
      config: { ...plain(first.outputs.config), env: { DATABASE_POOL_MAX: "4" } },
    });
    const v = await verdicts(connectionBudget, [...plan, second]);
    expect(v.map((x) => x.message)).toEqual([
      expect.stringMatching(
        /its clients can open 101: .*Fly app mauntic-pr-42-delivery-sender \(2 machine\(s\)\) 14 as mauntic_pr_42_delivery/,
      ),
    ]);
    // An app whose secrets hold no DATABASE_URL opens no pool: dropping one frees its 10.
    const secrets = named(plan, "mauntic-pr-42-fly-journey-executor-secrets");
    delete plain(plain(secrets.outputs.values)).DATABASE_URL;
    expect(await verdicts(connectionBudget, [...plan, second])).toEqual([]); // 101 - 10 = 91
  });

  describe("in a preview of a change (hosts unknown: dynamic providers return their inputs)", () => {
    it.each(STACKS)("reaches a verdict on %s: quiet, not 'cannot run during preview'", async (stack) => {
      const plan = previewPlanOf(stack);
      // The endpoints' hosts are not there: the policy judges from sizes, limits and where each origin came from.
      for (const ep of plan.filter((r) => r.type === "pulumi-nodejs:dynamic/neon:Endpoint")) {
        expect(ep.outputs.host).toBeUndefined();
      }
      expect(await verdicts(connectionBudget, plan)).toEqual([]);
    });

    it("a prod compute-size cut: at 0.25 CU 97 clients fit, 98 fire with the policy's figures", async () => {
      const plan = previewPlanOf("prod");
      named(plan, "mauntic-prod-neon-primary").outputs.autoscaling_limit_min_cu = 0.25;
      // 4 Fly apps x 2 machines x 10 + the migrator's 2 = 82: the 5 primary Hyperdrive configs get 15 between them.
      const configs = ["identity", "crm", "delivery", "analytics", "journey"].map((w) =>
        named(plan, `mauntic-prod-${w}-db`),
      );
      for (const c of configs) c.outputs.originConnectionLimit = 3;
      expect(await verdicts(connectionBudget, plan)).toEqual([]); // exactly 97
      configs[0]!.outputs.originConnectionLimit = 4;
      const v = await verdicts(connectionBudget, plan);
      expect(v).toEqual([
        {
          policy: "connection-budget",
          enforcement: "mandatory",
          urn: named(plan, "mauntic-prod-neon-primary").urn,
          message: expect.stringMatching(
            /^mauntic-prod-primary at its minimum 0\.25 CU allows 97 connections \(max_connections 104 - 7 reserved\); its clients can open 98: Hyperdrive mauntic-prod-identity-db 4 as mauntic_prod_identity, .*the migrator 2, Fly app mauntic-prod-delivery-sender \(2 machine\(s\)\) 20 as mauntic_prod_delivery.* \(hosts unknown in this preview: each client counted one for one\)$/,
          ),
        },
      ]);
      // The replica is judged on its own: the analytics replica config is not counted on the primary.
      expect(v[0]!.message).not.toContain("replica-db");
    });

    it("the replica's budget: its config at exactly 202 fits 0.5 CU, 203 fires on the replica", async () => {
      const plan = previewPlanOf("prod");
      const replica = named(plan, "mauntic-prod-analytics-replica-db");
      replica.outputs.originConnectionLimit = maxConnections(0.5) - RESERVED_CONNECTIONS;
      expect(await verdicts(connectionBudget, plan)).toEqual([]);
      replica.outputs.originConnectionLimit = maxConnections(0.5) - RESERVED_CONNECTIONS + 1;
      expect((await verdicts(connectionBudget, plan)).map((x) => [x.urn, x.message.split(";")[0]])).toEqual([
        [
          named(plan, "mauntic-prod-neon-replica").urn,
          "mauntic-prod-replica at its minimum 0.5 CU allows 202 connections (max_connections 209 - 7 reserved)",
        ],
      ]);
    });
  });
});
