import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { noPlaintextSecrets, secretConfigKeys, stackFiles } from "./no-plaintext-secrets";
import { extraResource, named, plain, planOf, STACKS, verdicts } from "./testing";

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

  describe("provider config, as the engine hands it (decrypted; secretness read from Pulumi.<stack>.yaml)", () => {
    const realDir = stackFiles.dir;
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "npls-"));
      stackFiles.dir = dir;
    });
    afterEach(() => {
      stackFiles.dir = realDir;
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const stackFile = (stack: string, config: string) =>
      fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), `encryptionsalt: v1:abc\nconfig:\n${config}`);
    // What `pulumi config set --secret` writes: the ciphertext under `secure`.
    const SECURE = "{ secure: v1:c2FsdA==:Y2lwaGVy }";
    // The dynamic providers' default provider gets every key with its namespace; a package's provider its own keys by name.
    const nodejs = (stack: "dev" | "prod", props: Record<string, unknown>) =>
      extraResource(stack, "pulumi:providers:pulumi-nodejs", "default", props);
    const cloudflare = (stack: "dev" | "prod", props: Record<string, unknown>) =>
      extraResource(stack, "pulumi:providers:cloudflare", "default_6_3_0", { version: "6.3.0", ...props });
    const findings = async (...rs: ReturnType<typeof nodejs>[]) =>
      (await verdicts(noPlaintextSecrets, rs)).map((v) => [v.urn, v.message]);

    const dynamicProps = {
      "mauntic-infra:environment": "dev",
      "mauntic-infra:neonApiKey": "napi_fake",
      "mauntic-infra:flyApiToken": "fo1_fake",
      "mauntic-infra:neon": JSON.stringify({ region: "aws-us-east-2" }),
    };

    it("is quiet when every credential key is secure in the stack file", async () => {
      stackFile(
        "dev",
        `  mauntic-infra:environment: dev\n  mauntic-infra:neonApiKey: ${SECURE}\n  mauntic-infra:flyApiToken: ${SECURE}\n  cloudflare:apiToken: ${SECURE}\n`,
      );
      expect(await findings(nodejs("dev", dynamicProps), cloudflare("dev", { apiToken: "cf_fake" }))).toEqual([]);
    });

    it("names each plain credential key and the command that makes it a secret", async () => {
      stackFile(
        "prod",
        `  mauntic-infra:neonApiKey: napi_fake\n  mauntic-infra:flyApiToken: ${SECURE}\n  cloudflare:apiToken: cf_fake\n`,
      );
      const dyn = nodejs("prod", { ...dynamicProps, "mauntic-infra:environment": "prod" });
      const cf = cloudflare("prod", { apiToken: "cf_fake" });
      expect(await findings(dyn, cf)).toEqual([
        [
          dyn.urn,
          "provider config mauntic-infra:neonApiKey holds a credential in plain text (set it with 'pulumi config set --secret mauntic-infra:neonApiKey')",
        ],
        [
          cf.urn,
          "provider config cloudflare:apiToken holds a credential in plain text (set it with 'pulumi config set --secret cloudflare:apiToken')",
        ],
      ]);
    });

    it("judges each stack by its own file, and a stack with no file has no secure key", async () => {
      stackFile("dev", `  cloudflare:apiToken: ${SECURE}\n`);
      expect(await findings(cloudflare("dev", { apiToken: "cf_fake" }))).toEqual([]);
      expect((await findings(cloudflare("prod", { apiToken: "cf_fake" }))).map(([, m]) => m)).toEqual([
        "provider config cloudflare:apiToken holds a credential in plain text (set it with 'pulumi config set --secret cloudflare:apiToken')",
      ]);
    });

    it("finds a credentialed URI inside a plain structured config value, and none in a secure one", async () => {
      const props = { "mauntic-infra:neon": JSON.stringify({ admin: "postgresql://u:pw@ep-1.neon.tech/db" }) };
      stackFile("dev", `  mauntic-infra:neon:\n    admin: postgresql://u:pw@ep-1.neon.tech/db\n`);
      expect((await findings(nodejs("dev", props))).map(([, m]) => m)).toEqual([
        "provider config mauntic-infra:neon holds a credential in plain text (set it with 'pulumi config set --secret mauntic-infra:neon')",
      ]);
      // A map holding a secure value is secure as a whole (the engine's Config.Secure).
      stackFile("dev", `  mauntic-infra:neon:\n    admin: ${SECURE}\n`);
      expect(await findings(nodejs("dev", props))).toEqual([]);
    });

    it("reads the old `<namespace>:config:<name>` spelling as the key", () => {
      stackFile("dev", `  mauntic-infra:config:neonApiKey: ${SECURE}\n  mauntic-infra:environment: dev\n`);
      expect([...secretConfigKeys("dev")]).toEqual(["mauntic-infra:neonApiKey"]);
    });

    it("an empty credential is no credential", async () => {
      stackFile("dev", '  cloudflare:apiToken: ""\n');
      expect(await findings(cloudflare("dev", { apiToken: "" }))).toEqual([]);
    });
  });
});
