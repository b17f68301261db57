/**
 * Adopting a dashboard-made entrypoint ruleset through the README's path (`ruleset-import` writes the file,
 * `pulumi import -f` reads it), then the next `pulumi up`: the engine must match the imported ruleset to the
 * program's declaration (same URN) and plan no replacement, since a replacement of a zone entrypoint creates a second
 * one first, which Cloudflare refuses (pulumi/pulumi-cloudflare#782).
 *
 * The engine's diff, modelled from its source: `ignoreChanges` paths take the old inputs' values before the provider
 * diffs (pulumi/pulumi pkg/resource/deploy/step_generator.go, `processIgnoreChanges`), then a changed property the
 * provider marks `RequiresReplace` is a replacement (terraform-provider-cloudflare v5 ruleset schema.go, listed in
 * zone-ruleset.ts as RULESET_REPLACE_ON_CHANGES), with diffOf (infra/dynamic/diff.ts) as the rule.
 */
import { describe, expect, it } from "vitest";
import { rulesetImportFile, RULESET_TYPE, type ImportFile } from "../infra/cloudflare/ruleset-import";
import { RULESET_REPLACE_ON_CHANGES } from "../infra/cloudflare/zone-ruleset";
import { diffOf } from "../infra/dynamic/diff";
import type { AnalyzedResource } from "../infra/offline/policies";
import { planOf } from "../policies/testing";

const PROJECT = "mauntic-infra";
const DASHBOARD_ID = "0123456789abcdef0123456789abcdef";

/** The URN `pulumi import -f` gives a ruleset of the file: its parent's type chain, then its own type and name. */
function importedUrn(stack: string, file: ImportFile, name: string): string {
  const r = file.resources.find((x) => x.name === name)!;
  const parentUrn =
    file.nameTable?.[r.parent!] ??
    (() => {
      const p = file.resources.find((x) => x.name === r.parent)!;
      // A child of the root stack: the engine leaves the stack's type out of the chain (deployment.go generateURN).
      return `urn:pulumi:${stack}::${PROJECT}::${p.type}::${p.logicalName}`;
    })();
  const parentType = parentUrn.split("::")[2]!;
  return `urn:pulumi:${stack}::${PROJECT}::${parentType}$${r.type}::${r.logicalName}`;
}

/** The engine's view of the next `up` for an imported resource (see the header). */
function nextUp(state: Record<string, unknown>, declared: AnalyzedResource) {
  const news = { ...(declared.inputs as Record<string, unknown>) };
  for (const k of declared.ignoreChanges) if (k in state) news[k] = state[k];
  return diffOf(state, news, RULESET_REPLACE_ON_CHANGES, ["description", "rules"]);
}

describe("adopting a dashboard-made entrypoint: import, then up", () => {
  for (const stack of ["dev", "prod"] as const) {
    it(`${stack}: the imported rulesets are the program's (same URN), and the next up updates them in place`, () => {
      const plan = planOf(stack);
      const rulesets = plan.filter((r) => r.type === RULESET_TYPE);
      expect(rulesets.map((r) => r.inputs.phase).sort()).toEqual([
        "http_request_cache_settings",
        "http_response_headers_transform",
      ]);
      const zoneId = rulesets[0]!.inputs.zoneId as string;
      const ids = { "cache-headers": DASHBOARD_ID, "cache-settings": DASHBOARD_ID };
      for (const componentsExist of [false, true]) {
        const file = rulesetImportFile(stack, PROJECT, zoneId, ids, { componentsExist });
        for (const entry of ["cache-headers", "cache-settings"] as const) {
          const urn = importedUrn(stack, file, `${entry}-ruleset`);
          const declared = rulesets.find((r) => r.urn === urn);
          expect(declared, `${urn} (components exist: ${componentsExist})`).toBeDefined();
          // What `pulumi import` stores: the live ruleset, named as the dashboard named it, with the dashboard's
          // rules and no description.
          const state = {
            ...(declared!.inputs as Record<string, unknown>),
            name: "default",
            description: "",
            rules: [{ expression: "true", action: "set_cache_settings", actionParameters: { cache: false } }],
          };
          const diff = nextUp(state, declared!);
          expect({ replaces: diff.replaces, changes: diff.changes }).toEqual({ replaces: [], changes: true });
          // Without the program's ignoreChanges, the name alone would force the create-then-delete.
          expect(nextUp(state, { ...declared!, ignoreChanges: [] }).replaces).toEqual(["name"]);
        }
      }
    });
  }

  it("renaming the program's rulesets later is no replacement either; a different phase still is", () => {
    const declared = planOf("dev").find(
      (r) => r.type === RULESET_TYPE && r.inputs.phase === "http_request_cache_settings",
    )!;
    const state = { ...(declared.inputs as Record<string, unknown>), name: "mauntic-dev-ruleset-old-name" };
    expect(nextUp(state, declared).replaces).toEqual([]);
    expect(nextUp({ ...state, phase: "http_request_late_transform" }, declared).replaces).toEqual(["phase"]);
  });
});
