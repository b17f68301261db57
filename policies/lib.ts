/**
 * What every policy file shares: its metadata shape, the stack's environment, the resource types the platform
 * declares, and small readers over the props a policy is handed. Policies read only what the analyzer hands them
 * (props, opts, urn): no config file, no environment variable, so they give the same verdict under
 * `pulumi preview --policy-pack policies` and offline (infra/offline/policies.ts).
 */
import type {
  EnforcementLevel,
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { PolicyConfigSchema } from "@pulumi/policy/policy";

export type Environment = "prod" | "dev" | "preview";

/** A policy's metadata, first in each file. `enforcement` is written to policies/config/<environment>.json. */
export interface PolicyMeta {
  name: string;
  /** One line: what must hold. */
  description: string;
  /** What breaks for users when it does not. */
  why: string;
  enforcement: Record<Environment, EnforcementLevel>;
  /** What to change when it fires. */
  remediation: string;
}

export type MetaPolicy = (ResourceValidationPolicy | StackValidationPolicy) & { meta: PolicyMeta };

/**
 * The pack-level enforcement (no --policy-pack-config) is prod's, the strictest: a pack run without config errs
 * on the safe side.
 */
function base(meta: PolicyMeta, configSchema?: PolicyConfigSchema) {
  return {
    meta,
    name: meta.name,
    description: meta.description,
    enforcementLevel: meta.enforcement.prod,
    remediationSteps: meta.remediation,
    ...(configSchema ? { configSchema } : {}),
  };
}

export function resourcePolicy(
  meta: PolicyMeta,
  validateResource: (args: ResourceValidationArgs, report: ReportViolation) => void | Promise<void>,
  configSchema?: PolicyConfigSchema,
): MetaPolicy {
  return { ...base(meta, configSchema), validateResource };
}

export function stackPolicy(
  meta: PolicyMeta,
  validateStack: (args: StackValidationArgs, report: ReportViolation) => void | Promise<void>,
  configSchema?: PolicyConfigSchema,
): MetaPolicy {
  return { ...base(meta, configSchema), validateStack };
}

/** Type tokens of what the program declares (the plan's `type`). */
export const T = {
  stack: "pulumi:pulumi:Stack",
  neonProject: "pulumi-nodejs:dynamic/neon:Project",
  neonBranch: "pulumi-nodejs:dynamic/neon:Branch",
  neonEndpoint: "pulumi-nodejs:dynamic/neon:Endpoint",
  neonRole: "pulumi-nodejs:dynamic/neon:Role",
  neonDatabase: "pulumi-nodejs:dynamic/neon:Database",
  /** A worker's login role, made with SQL by the migrator (infra/neon/login-role.ts), not by Neon's API. */
  loginRole: "pulumi-nodejs:dynamic/postgres:LoginRole",
  hyperdrive: "cloudflare:index/hyperdriveConfig:HyperdriveConfig",
  kvNamespace: "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
  r2Bucket: "cloudflare:index/r2Bucket:R2Bucket",
  r2CustomDomain: "cloudflare:index/r2CustomDomain:R2CustomDomain",
  ruleset: "cloudflare:index/ruleset:Ruleset",
  command: "command:local:Command",
} as const;

/**
 * Fly resources as branch `fly` declares them (dynamic resources over the Machines API): matched by the type's
 * module `fly` and kind, since the token is the fly helper's choice. Check at merge: policies/fly.ts.
 */
export function isFly(type: string, kind: "App" | "Machine" | "Volume" | "Secrets"): boolean {
  return /^pulumi-nodejs:dynamic\/fly[^:]*:/.test(type) && type.endsWith(`:${kind}`);
}

/** The stack a URN belongs to: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOf(urn: string): string {
  return urn.split("::")[0]!.split(":").slice(2).join(":");
}

/** dev, prod, or preview for `pr-<N>` (the naming rule of infra/naming.ts). */
export function environmentOf(urn: string): Environment {
  const stack = stackOf(urn);
  if (stack === "prod" || stack === "dev") return stack;
  if (/^pr-\d+$/.test(stack)) return "preview";
  throw new Error(`stack '${stack}' is none of dev, prod, pr-<N>`);
}

/** The environment of the stack a set of resources belongs to (stack policies). */
export function stackEnvironment(resources: PolicyResource[]): Environment | undefined {
  const first = resources[0];
  return first ? environmentOf(first.urn) : undefined;
}

/** Every Postgres role the stack declares: Neon API roles (the migrator) and the workers' SQL-made login roles. */
export function declaredRoles(resources: PolicyResource[]): string[] {
  return [...ofType(resources, T.neonRole), ...ofType(resources, T.loginRole)]
    .map((r) => str(r.props.name))
    .filter((n): n is string => !!n);
}

export function ofType(resources: PolicyResource[], type: string): PolicyResource[] {
  return resources.filter((r) => r.type === type);
}

/** The stack outputs: the root stack resource's props in AnalyzeStack. */
export function stackOutputs(resources: PolicyResource[]): Record<string, unknown> {
  return (resources.find((r) => r.type === T.stack)?.props ?? {}) as Record<string, unknown>;
}

/** `a.b.c` of a props object, undefined when any step is missing. Reading an unknown throws (preview). */
export function at(v: unknown, ...keys: (string | number)[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Neon's pooled host is the endpoint id + `-pooler` (DESIGN.md); the compute behind both is the same. */
export function computeHost(host: string): string {
  return host.replace(/^([^.]+)-pooler\./, "$1.");
}
export function isPoolerHost(host: string): boolean {
  return /^[^.]+-pooler\./.test(host);
}

/** The host of a postgres URI, or undefined when it is not one. */
export function uriHost(uri: string): string | undefined {
  try {
    const u = new URL(uri);
    return /^postgres(ql)?:$/.test(u.protocol) ? u.hostname : undefined;
  } catch {
    return undefined;
  }
}

export function describe(r: PolicyResource | { type: string; name: string }): string {
  return `${r.type.split(":").pop()} ${r.name}`;
}
