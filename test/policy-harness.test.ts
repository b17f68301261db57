/**
 * The offline harness's contract with a policy, case by case, with throwaway policies (the real pack's policies and
 * the real analyzer are compared in policy-analyzer.test.ts).
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { analyzeResources, type AnalyzedResource } from "../infra/offline/policies";

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const resource = (inputs: Record<string, unknown>): AnalyzedResource => ({
  urn: "urn:pulumi:dev::mauntic-infra::test:index:Thing::a",
  type: "test:index:Thing",
  name: "a",
  custom: true,
  inputs,
  outputs: inputs,
  dependencies: [],
  protect: false,
  ignoreChanges: [],
  additionalSecretOutputs: [],
});
const policy = (
  name: string,
  validate: (args: ResourceValidationArgs, report: ReportViolation) => void,
  enforcementLevel?: ResourceValidationPolicy["enforcementLevel"],
): ResourceValidationPolicy => ({
  name,
  description: `${name} description`,
  enforcementLevel,
  validateResource: validate,
});

describe("offline policy harness", () => {
  it("hands props as the analyzer does: secrets decrypted, `__` keys dropped at every depth", async () => {
    let seen: unknown;
    const p = policy("look", ({ props }) => {
      seen = JSON.parse(JSON.stringify(props));
    });
    await analyzeResources(
      [resource({ password: { [SIG]: SECRET, value: "pw" }, __provider: "code", nested: { __x: 1, y: 2 } })],
      {
        policies: [p],
      },
    );
    expect(seen).toEqual({ password: "pw", nested: { y: 2 } });
  });

  it("reading an unknown gives an advisory 'can't run during preview' instead of the verdict", async () => {
    const p = policy(
      "reads-x",
      ({ props }, report) => {
        if (props.x !== 1) report("x is not 1");
      },
      "mandatory",
    );
    const v = await analyzeResources([resource({ x: UNKNOWN })], { policies: [p], packVersion: "9.9.9" });
    expect(v).toEqual([
      {
        policy: "reads-x",
        enforcement: "advisory",
        urn: "urn:pulumi:dev::mauntic-infra::test:index:Thing::a",
        message:
          "can't run policy 'reads-x' from policy pack 'mauntic-infra@v9.9.9' during preview: string value at .x can't be known during preview",
      },
    ]);
  });

  it("levels: config over policy over the pack's advisory; disabled skips; remediate reports mandatory", async () => {
    const fires = (level?: ResourceValidationPolicy["enforcementLevel"]) =>
      policy("fires", (_a, report) => report("no"), level);
    const level = async (p: ResourceValidationPolicy, config = {}) =>
      (await analyzeResources([resource({})], { policies: [p], config })).map((v) => v.enforcement);
    expect(await level(fires())).toEqual(["advisory"]);
    expect(await level(fires("mandatory"))).toEqual(["mandatory"]);
    expect(await level(fires("mandatory"), { fires: "advisory" })).toEqual(["advisory"]);
    expect(await level(fires("mandatory"), { fires: { enforcementLevel: "disabled" } })).toEqual([]);
    expect(await level(fires(), { fires: "remediate" })).toEqual(["mandatory"]);
  });

  it("getConfig is the policy's config without enforcementLevel, {} when none; notApplicable skips quietly", async () => {
    const configs: unknown[] = [];
    const p = policy("cfg", ({ getConfig, notApplicable }) => {
      configs.push(getConfig());
      notApplicable("not this one");
    });
    expect(await analyzeResources([resource({})], { policies: [p] })).toEqual([]);
    expect(
      await analyzeResources([resource({})], {
        policies: [p],
        config: { cfg: { enforcementLevel: "mandatory", max: 3 } },
      }),
    ).toEqual([]);
    expect(configs).toEqual([{}, { max: 3 }]);
  });

  it("a stack policy's finding without a URN stays stack-level; a policy that throws is named", async () => {
    const stack: StackValidationPolicy = {
      name: "whole",
      description: "d",
      validateStack: (_a, report) => report("about the stack"),
    };
    expect(await analyzeResources([resource({})], { policies: [stack] })).toEqual([
      { policy: "whole", enforcement: "advisory", message: "about the stack" },
    ]);
    const broken = policy("broken", () => {
      throw new Error("boom");
    });
    await expect(analyzeResources([resource({})], { policies: [broken], packVersion: "1.0.0" })).rejects.toThrow(
      "Error validating resource with policy 'broken' from policy pack 'mauntic-infra@v1.0.0': boom",
    );
  });
});
