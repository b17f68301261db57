/**
 * What every policy file shares: its metadata shape, the stack's environment, the resource types the platform
 * declares, and small readers over the props a policy is handed. Policies read only what the analyzer hands them
 * (props, opts, urn): no config file, no environment variable, so they give the same verdict under
 * `pulumi preview --policy-pack policies` and offline (infra/offline/policies.ts). One exception:
 * no-plaintext-secrets reads which config keys are `secure:` from the stack file, which the analyzer never hands over.
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

/* eslint-disable-next-line @typescript-eslint/no-require-imports */
const { UnknownValueError } = require("@pulumi/policy/proxy") as { UnknownValueError: new () => Error };
/** What `known` answers for a value the preview cannot know yet. */
export const UNKNOWN = Symbol("unknown during preview");
/**
 * Reads a value that may be unknown in a preview: the analyzer's props proxy throws UnknownValueError on an
 * unknown (@pulumi/policy proxy.js), which would end the whole policy with "can't run during preview". Policies
 * that must reach a verdict in a preview read through this and judge from what is known.
 */
export function known<T>(read: () => T): T | typeof UNKNOWN {
  try {
    return read();
  } catch (e) {
    if (e instanceof UnknownValueError) return UNKNOWN;
    throw e;
  }
}
/** A known string, else undefined (absent, not a string, or unknown in a preview). */
export function knownStr(read: () => unknown): string | undefined {
  const v = known(read);
  return typeof v === "string" ? v : undefined;
}

/**
 * The Neon endpoint a resource's connection goes to. A known host decides alone (the compute behind a pooled
 * host is the endpoint's; a host of no endpoint here gives none). In a preview of a change the hosts are unknown (dynamic providers return their inputs as their
 * outputs: pulumi v3.248.0 sdk/go/common/resource/plugin/provider_plugin.go), but where the value came from is
 * known: AnalyzeStack hands each resource its propertyDependencies (the resources each input property came from)
 * and dependencies. The endpoint is the one among them, or the one of type `prefer` when there are several.
 */
export function endpointOf(
  resources: PolicyResource[],
  r: PolicyResource,
  opts: { host?: string; property?: string; prefer?: "read_write" | "read_only" },
): PolicyResource | undefined {
  const endpoints = ofType(resources, T.neonEndpoint);
  // A known host is the truth, even when it names no endpoint of the stack.
  if (opts.host) return endpoints.find((e) => knownStr(() => e.props.host) === computeHost(opts.host!));
  const fromProperty = opts.property ? (r.propertyDependencies?.[opts.property] ?? []) : [];
  for (const from of [fromProperty, r.dependencies]) {
    const candidates = from.filter((d) => d.type === T.neonEndpoint);
    if (candidates.length === 1) return candidates[0];
    const preferred = candidates.filter((e) => knownStr(() => e.props.type) === opts.prefer);
    if (opts.prefer && preferred.length === 1) return preferred[0];
    if (candidates.length) return undefined;
  }
  return undefined;
}
