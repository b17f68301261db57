/**
 * One zone entrypoint ruleset for a phase, one rule per cache tier: what the cache-settings and the
 * response-header components both declare (a zone has one entrypoint ruleset per phase).
 *
 * Adopting and renaming: the provider marks `name` (like `kind`, `phase`, `zone_id`) as forcing a replacement
 * (cloudflare/terraform-provider-cloudflare v5 internal/services/ruleset/schema.go, `RequiresReplace()`), and a
 * replacement creates first: a POST of a second entrypoint for the zone and phase, which Cloudflare refuses while the
 * first exists (pulumi/pulumi-cloudflare#782). After `pulumi import` of a dashboard-made entrypoint, state holds the
 * dashboard's name, so the next `up` would plan exactly that. `ignoreChanges: ["name"]` keeps the name the ruleset
 * has (only a label: rules, description and expression still update in place, by PUT), and a create still sends
 * ours. Chosen over `deleteBeforeReplace`, which would delete the zone's live cache and header rules first and leave
 * the zone without them if the create then failed, on every rename.
 */
import * as cloudflare from "@pulumi/cloudflare";
import type * as pulumi from "@pulumi/pulumi";
import { cloudName } from "../naming";

export interface TierRule {
  ref: string;
  description: string;
  expression: string;
  action: string;
  actionParameters: cloudflare.types.input.RulesetRuleActionParameters;
}

export { RULESET_REPLACE_ON_CHANGES } from "./limits";
/** What the program tells the engine to keep as it is in state (see the header). */
export const RULESET_IGNORE_CHANGES = ["name"];

export function zoneEntrypointRuleset(
  parent: pulumi.Resource,
  args: { stack: string; zoneId: string; phase: string; thing: string; description: string; rules: TierRule[] },
): cloudflare.Ruleset {
  const name = cloudName(args.stack, "ruleset", args.thing);
  return new cloudflare.Ruleset(
    name,
    {
      zoneId: args.zoneId,
      kind: "zone",
      phase: args.phase,
      name,
      description: args.description,
      rules: args.rules.map((r) => ({
        ref: r.ref,
        description: r.description,
        expression: r.expression,
        action: r.action,
        actionParameters: r.actionParameters,
        enabled: true,
      })),
    },
    { parent, ignoreChanges: RULESET_IGNORE_CHANGES },
  );
}
