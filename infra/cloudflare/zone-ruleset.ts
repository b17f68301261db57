/**
 * One zone entrypoint ruleset for a phase, one rule per cache tier: what the cache-settings and the
 * response-header components both declare (a zone has one entrypoint ruleset per phase).
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
    { parent },
  );
}
