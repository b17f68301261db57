/**
 * The plan model: what one stack declares, as the offline engine records it. One model for every consumer:
 * the CLI's tree and JSON, the policy pack's `violations`, preview comments and tests.
 */

export interface PlanResource {
  urn: string;
  /** Type token, e.g. `cloudflare:index/hyperdriveConfig:HyperdriveConfig` or `mauntic:neon:Database`. */
  type: string;
  /** Logical (Pulumi) name. */
  name: string;
  /** Parent URN; absent only for the root stack resource. */
  parent?: string;
  /** Custom resources are created by a provider; component resources only group children. */
  custom: boolean;
  /** Read from elsewhere rather than managed (a StackReference, `Resource.get`). */
  read?: boolean;
  /** Inputs as registered; secret values are `"[secret]"`, unknowns `"[unknown]"`. */
  inputs: Record<string, unknown>;
  /** URNs this resource must wait for: explicit dependsOn and every resource its inputs came from. */
  dependsOn: string[];
  /** Provider reference (`urn::id`) for custom resources with an explicit provider. */
  provider?: string;
  protect: boolean;
  retainOnDelete: boolean;
}

/** What a finding does: `mandatory` fails `plan`/`check` (and blocks `pulumi up`), `advisory` is printed. */
export type Enforcement = "mandatory" | "advisory";

/** A policy finding, as the policy pack (policies/) reports it on every plan. */
export interface Violation {
  policy: string;
  enforcement: Enforcement;
  /** The resource the finding is about; absent for a finding about the whole stack. */
  urn?: string;
  message: string;
}

export interface Plan {
  stack: string;
  resources: PlanResource[];
  outputs: Record<string, unknown>;
  /** The longest chain of custom resources that must be created one after another on a fresh stack. */
  depth: number;
  violations: Violation[];
}

export const SECRET = "[secret]";
export const UNKNOWN = "[unknown]";

/**
 * Longest chain of creations: custom resources only, edges from dependencies, provider references and a custom
 * parent (Pulumi creates a custom parent before its children). Components are free: the SDK already expands a
 * dependency on a component into its custom children.
 */
export function dependencyDepth(resources: readonly PlanResource[]): number {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (urn: string): number => {
    const known = memo.get(urn);
    if (known !== undefined) return known;
    const r = byUrn.get(urn);
    if (!r) return 0;
    if (visiting.has(urn)) throw new Error(`dependency cycle through ${urn}`);
    visiting.add(urn);
    const before = new Set(r.dependsOn);
    if (r.provider) before.add(r.provider.split("::").slice(0, -1).join("::"));
    if (r.parent && byUrn.get(r.parent)?.custom) before.add(r.parent);
    let longest = 0;
    for (const dep of before) longest = Math.max(longest, depthOf(dep));
    visiting.delete(urn);
    const d = longest + (r.custom ? 1 : 0);
    memo.set(urn, d);
    return d;
  };
  let max = 0;
  for (const r of resources) max = Math.max(max, depthOf(r.urn));
  return max;
}
