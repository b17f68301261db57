import { describe, expect, it } from "vitest";
import { maskWire } from "../infra/offline/engine";
import { dependencyDepth, SECRET, UNKNOWN, type PlanResource } from "../infra/offline/plan";

const res = (urn: string, opts: Partial<PlanResource> = {}): PlanResource => ({
  urn,
  type: "t",
  name: urn,
  custom: true,
  inputs: {},
  dependsOn: [],
  protect: false,
  retainOnDelete: false,
  ...opts,
});

describe("dependency depth", () => {
  it("is the longest chain of custom resources", () => {
    // a -> b -> c and a -> d: depth 3
    const rs = [
      res("a"),
      res("b", { dependsOn: ["a"] }),
      res("c", { dependsOn: ["b"] }),
      res("d", { dependsOn: ["a"] }),
    ];
    expect(dependencyDepth(rs)).toBe(3);
  });

  it("counts components as free and a custom parent and a provider as predecessors", () => {
    const rs = [
      res("comp", { custom: false }),
      res("provider"),
      res("x", { parent: "comp", provider: "provider::id-1" }),
      res("y", { parent: "x" }),
    ];
    expect(dependencyDepth(rs)).toBe(3);
    expect(dependencyDepth([res("comp", { custom: false })])).toBe(0);
  });

  it("reports a cycle instead of looping", () => {
    expect(() => dependencyDepth([res("a", { dependsOn: ["b"] }), res("b", { dependsOn: ["a"] })])).toThrow(/cycle/);
  });
});

describe("wire values in the plan", () => {
  it("masks secrets at any depth, marks unknowns and elides dynamic providers", () => {
    const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "hunter2" };
    const wire = {
      password: secret,
      origin: { host: "ep-1.neon.tech", password: secret },
      list: [secret, "plain"],
      pending: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
      __provider: "exports.handler = ...",
    };
    const masked = maskWire(wire) as Record<string, unknown>;
    expect(masked).toEqual({
      password: SECRET,
      origin: { host: "ep-1.neon.tech", password: SECRET },
      list: [SECRET, "plain"],
      pending: UNKNOWN,
      __provider: "[dynamic provider]",
    });
    expect(JSON.stringify(masked)).not.toContain("hunter2");
  });
});
