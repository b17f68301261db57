/**
 * A zone has one entrypoint ruleset per phase: exactly one stack may own a zone's `http_request_cache_settings` and
 * `http_response_headers_transform` rulesets, or two stacks would overwrite each other's cache rules on every deploy. The committed stack files
 * say which stack owns which zone (`cloudflare.ownsResponseHeaderRuleset`); this check reads them all through the
 * config loader and fails the plan, naming both files, when two claim one zone.
 */
import { ConfigError } from "../config/errors";
import { committedStacks } from "../config/load";
import type { StackConfig } from "../config/schema";
import { parseStackName } from "../naming";

export interface ZoneClaim {
  /** The stack file (or, for a config not from its file, a description of where it came from). */
  source: string;
  stack: string;
  zoneName: string;
  zoneId: string;
}

/** A stack file's claim, read leniently: other sections of that file may be broken without concerning this check. */
function claimOfValues(stack: string, source: string, values: Record<string, unknown>): ZoneClaim | undefined {
  const cf = values.cloudflare as { ownsResponseHeaderRuleset?: unknown; zone?: { name?: unknown; zoneId?: unknown } };
  if (!cf || typeof cf !== "object" || cf.ownsResponseHeaderRuleset !== true) return undefined;
  const zoneId = cf.zone?.zoneId;
  if (typeof zoneId !== "string") return undefined;
  return { source, stack, zoneId, zoneName: typeof cf.zone?.name === "string" ? cf.zone.name : zoneId };
}

/** Claims of the committed stack files. */
export function committedClaims(committed = committedStacks()): ZoneClaim[] {
  return committed.flatMap(({ stack, raw }) => {
    // A preview never owns its zone's rulesets (previewOverrides), whatever its own file holds.
    if (parseStackName(stack).kind === "preview") return [];
    const claim = claimOfValues(stack, raw.source, raw.values);
    return claim ? [claim] : [];
  });
}

/** Throws one ConfigError listing every zone claimed by more than one source. */
export function assertOneOwnerPerZone(claims: ZoneClaim[]): void {
  const byZone = new Map<string, ZoneClaim[]>();
  for (const c of claims) byZone.set(c.zoneId, [...(byZone.get(c.zoneId) ?? []), c]);
  const problems: string[] = [];
  const sources = new Set<string>();
  for (const [zoneId, owners] of byZone) {
    if (owners.length < 2) continue;
    owners.forEach((o) => sources.add(o.source));
    problems.push(
      `config.mauntic-infra:cloudflare.ownsResponseHeaderRuleset: zone ${owners[0]!.zoneName} (${zoneId}) is ` +
        `claimed by ${owners.map((o) => o.source).join(" and ")}; a zone has one entrypoint ruleset per phase ` +
        `(http_request_cache_settings, http_response_headers_transform) (allowed: true in exactly one stack file ` +
        `per zone)`,
    );
  }
  if (problems.length) throw new ConfigError(problems, [...sources].join(", "));
}

/**
 * The check the program runs: every committed stack file's claim, with this stack's claim taken from the config in
 * hand (which may come from `--config-file` or the engine rather than the committed file).
 */
export function checkZoneOwnership(stack: string, config: StackConfig, committed = committedStacks()): ZoneClaim[] {
  const claimed = committedClaims(committed);
  const own = claimed.find((c) => c.stack === stack);
  const others = claimed.filter((c) => c.stack !== stack);
  const claims = [...others];
  if (config.cloudflare.ownsResponseHeaderRuleset) {
    const { zoneId, name } = config.cloudflare.zone;
    const fromFile = own?.zoneId === zoneId;
    claims.push({
      source: fromFile ? own!.source : `the config given for stack ${stack}`,
      stack,
      zoneId,
      zoneName: name,
    });
  }
  assertOneOwnerPerZone(claims);
  return claims;
}
