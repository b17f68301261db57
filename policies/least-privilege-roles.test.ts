import { describe, expect, it } from "vitest";
import { leastPrivilegeRoles } from "./least-privilege-roles";
import { extraResource, named, plain, planOf, previewPlanOf, verdicts } from "./testing";

describe("least-privilege-roles", () => {
  it.each(["dev", "prod"] as const)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(leastPrivilegeRoles, planOf(stack))).toEqual([]);
  });

  // A real finding: the preview's one shared config logs in as the owner (advisory in previews; see README).
  it("reports today's pr-42 shared config, which logs in as the migrator", async () => {
    const plan = planOf("pr-42");
    expect(await verdicts(leastPrivilegeRoles, plan, { "least-privilege-roles": "advisory" })).toEqual([
      {
        policy: "least-privilege-roles",
        enforcement: "advisory",
        urn: named(plan, "mauntic-pr-42-shared-db").urn,
        message:
          "Hyperdrive config mauntic-pr-42-shared-db logs in as mauntic_dev_migrator, the database owner (migrator)",
      },
    ]);
  });

  it("fires when a prod worker's config or a Fly worker uses the migrator, or a role the stack does not declare", async () => {
    const plan = planOf("prod");
    const crm = named(plan, "mauntic-prod-crm-db");
    plain(crm.outputs.origin).user = "mauntic_prod_migrator";
    const journey = named(plan, "mauntic-prod-journey-db");
    plain(journey.outputs.origin).user = "neondb_owner";
    // As branch fly declares a queue worker's database access: DATABASE_URL in the app's secrets.
    const fly = extraResource("prod", "pulumi-nodejs:dynamic/fly:Secrets", "mauntic-prod-fly-sender-secrets", {
      app_name: "mauntic-prod-sender",
      values: { DATABASE_URL: "postgresql://mauntic_prod_migrator:pw@ep-x-pooler.us-east-2.aws.neon.tech/mauntic" },
    });
    const v = await verdicts(leastPrivilegeRoles, [...plan, fly]);
    expect(v.map((x) => [x.enforcement, x.urn, x.message])).toEqual([
      [
        "mandatory",
        journey.urn,
        "Hyperdrive config mauntic-prod-journey-db logs in as neondb_owner, a role this stack does not declare",
      ],
      [
        "mandatory",
        crm.urn,
        "Hyperdrive config mauntic-prod-crm-db logs in as mauntic_prod_migrator, the database owner (migrator)",
      ],
      [
        "mandatory",
        fly.urn,
        "Fly app mauntic-prod-sender logs in as mauntic_prod_migrator, the database owner (migrator)",
      ],
    ]);
  });

  describe("in a preview of a change (a Fly app's secrets one unknown: made from its role's password)", () => {
    it.each(["dev", "prod"] as const)(
      "reaches a verdict on %s: quiet, not 'cannot run during preview'",
      async (stack) => {
        const plan = previewPlanOf(stack);
        const secrets = plan.filter(
          (r) => r.type === "pulumi-nodejs:dynamic/fly:Secrets" && r.name.endsWith("-crm-import-secrets"),
        );
        expect(secrets.map((r) => r.outputs.values)).toEqual(["04da6b54-80e4-46f7-96ec-b56ff0331ba9"]);
        expect(await verdicts(leastPrivilegeRoles, plan)).toEqual([]);
      },
    );

    it("fires when a worker's secrets came from the migrator's role", async () => {
      const plan = previewPlanOf("prod");
      const secrets = named(plan, "mauntic-prod-fly-crm-import-secrets");
      const login = named(plan, "mauntic-prod-neon-role-crm").urn;
      const migrator = named(plan, "mauntic-prod-neon-role-migrator").urn;
      expect(secrets.propertyDependencies!.values).toContain(login);
      secrets.propertyDependencies!.values = secrets.propertyDependencies!.values!.map((u) =>
        u === login ? migrator : u,
      );
      expect((await verdicts(leastPrivilegeRoles, plan)).map((v) => [v.urn, v.message])).toEqual([
        [
          secrets.urn,
          "Fly app mauntic-prod-crm-import logs in as mauntic_prod_migrator, the database owner (migrator)",
        ],
      ]);
    });
  });
});
