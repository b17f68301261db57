import { describe, expect, it } from "vitest";
import { noPlaintextSecrets } from "./no-plaintext-secrets";
import { named, plain, planOf, STACKS, verdicts } from "./testing";

describe("no-plaintext-secrets", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(noPlaintextSecrets, planOf(stack))).toEqual([]);
  });

  it("fires on a credentialed URI in a stack output and a password-named input outside the allowed places", async () => {
    const plan = planOf("prod");
    const stack = plan.find((r) => r.type === "pulumi:pulumi:Stack")!;
    stack.outputs.debugUri = "postgresql://mauntic_prod_crm:pw@ep-1.us-east-2.aws.neon.tech/mauntic"; // a short fake password;
    const cmd = named(plan, "mauntic-prod-migrations-run");
    plain(cmd.outputs.environment).PGPASSWORD = "npg_abc";
    const v = await verdicts(noPlaintextSecrets, plan);
    expect(v.map((x) => [x.urn, x.message])).toEqual([
      [stack.urn, "debugUri holds a credential in plain text"],
      [cmd.urn, "environment.PGPASSWORD holds a credential in plain text"],
    ]);
  });

  it("allows a credential under a resource's additionalSecretOutputs", async () => {
    const plan = planOf("prod");
    // A worker's SQL-made login role (infra/neon/login-role.ts): its password and the migrator's URI it logs in with.
    const role = named(plan, "mauntic-prod-neon-role-crm");
    expect(role.additionalSecretOutputs).toEqual(["password", "admin_uri"]);
    expect(await verdicts(noPlaintextSecrets, [role])).toEqual([]);
    role.additionalSecretOutputs = ["password"];
    expect((await verdicts(noPlaintextSecrets, [role])).map((v) => v.message)).toEqual([
      "admin_uri holds a credential in plain text",
    ]);
    role.additionalSecretOutputs = [];
    expect((await verdicts(noPlaintextSecrets, [role])).map((v) => v.message).sort()).toEqual([
      "admin_uri holds a credential in plain text",
      "password holds a credential in plain text",
    ]);
  });
});
