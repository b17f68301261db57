/**
 * The one naming function. Every stack name rule and every cloud name (`mauntic-<stack>-<thing>`) comes from here,
 * fitted to each service's length and charset limits.
 */

export const PREFIX = "mauntic";

/** `dev`, `prod`, or a preview stack `pr-<N>` for pull request N. */
export const STACK_NAME = /^(dev|prod|pr-[1-9][0-9]{0,5})$/;

export type StackKind = "prod" | "dev" | "preview";

export interface StackName {
  stack: string;
  kind: StackKind;
  /** The pull request number of a preview stack. */
  pr?: number;
}

export class StackNameError extends Error {}

export function parseStackName(stack: string): StackName {
  if (!STACK_NAME.test(stack)) {
    throw new StackNameError(
      `stack name '${stack}' is not allowed (allowed: dev, prod, or pr-<N> with N a pull request number 1..999999)`,
    );
  }
  if (stack.startsWith("pr-")) return { stack, kind: "preview", pr: Number(stack.slice(3)) };
  return { stack, kind: stack as StackKind };
}

/**
 * Service rules: max length and allowed characters. `sep` joins the parts.
 * - neon: project/branch/endpoint names (Neon allows up to 256; we keep 64 for readability in the console).
 * - pgRole / pgDatabase: PostgreSQL identifiers, 63 bytes, lowercase + underscore so grants need no quoting.
 * - r2: bucket names 3..63, lowercase letters, digits, hyphens.
 * - kv: namespace titles (512 max).
 * - hyperdrive: config names (64 max in the dashboard's validation).
 * - fly: app names, lowercase letters, digits, hyphens, max 63 (they become DNS labels).
 * - ruleset / rule: Cloudflare ruleset names and rule refs.
 */
export const SERVICES = {
  neon: { max: 64, sep: "-", charset: /^[a-z0-9-]+$/ },
  pgRole: { max: 63, sep: "_", charset: /^[a-z_][a-z0-9_]*$/ },
  pgDatabase: { max: 63, sep: "_", charset: /^[a-z_][a-z0-9_]*$/ },
  r2: { max: 63, sep: "-", charset: /^[a-z0-9][a-z0-9-]*[a-z0-9]$/ },
  kv: { max: 512, sep: "-", charset: /^[a-z0-9-]+$/ },
  hyperdrive: { max: 64, sep: "-", charset: /^[a-z0-9-]+$/ },
  fly: { max: 63, sep: "-", charset: /^[a-z][a-z0-9-]*[a-z0-9]$/ },
  ruleset: { max: 100, sep: "-", charset: /^[a-z0-9-]+$/ },
  pulumi: { max: 100, sep: "-", charset: /^[a-z0-9-]+$/ },
} as const;

export type Service = keyof typeof SERVICES;

export class NameError extends Error {}

/**
 * `mauntic-<stack>-<thing...>` for a service. Throws when the result breaks the service's rules, so that an
 * over-long worker name fails at plan time, not at the cloud API.
 */
export function cloudName(stack: string, service: Service, ...thing: string[]): string {
  parseStackName(stack);
  const rule = SERVICES[service];
  const parts = [PREFIX, stack, ...thing].map((p) => p.toLowerCase().replace(/[^a-z0-9]+/g, rule.sep));
  const out = parts.join(rule.sep);
  if (out.length > rule.max) {
    throw new NameError(`${service} name '${out}' is ${out.length} characters (allowed: at most ${rule.max})`);
  }
  if (!rule.charset.test(out)) {
    throw new NameError(`${service} name '${out}' has characters ${service} does not allow`);
  }
  return out;
}

/** Pulumi logical resource names: the same scheme, so state and console read alike. */
export function resourceName(stack: string, ...thing: string[]): string {
  return cloudName(stack, "pulumi", ...thing);
}
