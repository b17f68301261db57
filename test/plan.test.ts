import { describe, expect, it } from "vitest";
import { planJson, runCli } from "./helpers/cli";

describe("plan (offline engine through the CLI)", () => {
  it.each(["dev", "prod", "pr-42"])("%s prints a JSON plan of the stack", async (stack) => {
    const plan = await planJson(stack);
    expect(Object.keys(plan).sort()).toEqual(["depth", "outputs", "resources", "stack", "violations"]);
    expect(plan.stack).toBe(stack);
    expect(plan.violations).toEqual([]);
    const root = plan.resources.find((r) => r.type === "pulumi:pulumi:Stack");
    expect(root?.urn).toBe(`urn:pulumi:${stack}::mauntic-infra::pulumi:pulumi:Stack::mauntic-infra-${stack}`);
    for (const r of plan.resources) {
      expect(r.urn.startsWith(`urn:pulumi:${stack}::mauntic-infra::`)).toBe(true);
      // Every resource but the root hangs under a parent that is itself in the plan.
      if (r !== root) expect(plan.resources.some((p) => p.urn === r.parent)).toBe(true);
      for (const d of r.dependsOn) expect(plan.resources.some((p) => p.urn === d)).toBe(true);
    }
    expect(plan.outputs.environment).toBe(stack.startsWith("pr-") ? "preview" : stack);
  });

  it("prints a readable tree with the totals", async () => {
    const r = await runCli(["plan", "--stack", "dev"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^▸ pulumi:pulumi:Stack {2}mauntic-infra-dev/m);
    expect(r.stdout).toMatch(/stack dev: \d+ resources to create, \d+ components, dependency depth \d+/);
  });

  it("--help documents the command", async () => {
    const r = await runCli(["plan", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--config-file <path>");
    expect(r.stdout).toContain("Exit codes");
  });
});
