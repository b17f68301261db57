import { describe, expect, it } from "vitest";
import { migrationsDirectEndpoint } from "./migrations-direct-endpoint";
import { named, planOf, STACKS, verdicts } from "./testing";

const SIG = "4dabf18193072939515e22adb298388d";

describe("migrations-direct-endpoint", () => {
  it.each(STACKS)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(migrationsDirectEndpoint, planOf(stack))).toEqual([]);
  });

  it("reads the secret DATABASE_URL as the analyzer does (decrypted) and fires on the pooler host", async () => {
    const plan = planOf("dev");
    const cmd = named(plan, "mauntic-dev-migrations-run");
    const env = cmd.inputs.environment as Record<string, { [SIG]: string; value: string }>;
    expect(env.DATABASE_URL![SIG]).toBe("1b47061264138c4ac30d75fd1eb44270"); // a secret on the wire
    env.DATABASE_URL!.value = env.DATABASE_URL!.value.replace(/@([^.]+)\./, "@$1-pooler.");
    const v = await verdicts(migrationsDirectEndpoint, plan);
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ enforcement: "mandatory", urn: cmd.urn });
    expect(v[0]!.message).toMatch(
      /^the migrations connect to ep-[0-9a-f]+-pooler\..*, Neon's pooler; use the direct host$/,
    );
  });
});
