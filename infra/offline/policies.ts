/**
 * The offline policy harness: runs the policy pack's policies (policies/all.ts) over a plan and hands each one what
 * the real analyzer hands it under `pulumi preview --policy-pack policies`. What the real one does, from
 * @pulumi/policy 1.21's server.js and the engine's analyzer_plugin.go:
 * - props: the engine marshals properties with KeepUnknowns, KeepSecrets and SkipInternalKeys (`__` keys such as a
 *   dynamic resource's `__provider` are dropped); the pack deserializes them with secrets *unwrapped to their plain
 *   values* (deserializeProperties(props, false)) and wraps them in unknownCheckingProxy, which throws
 *   UnknownValueError when a policy reads an unknown; that policy then reports an advisory "can't run ... during
 *   preview" diagnostic instead of its verdict.
 * - Analyze (resource policies) gets a resource's inputs; AnalyzeStack (stack policies) gets every managed
 *   resource's outputs, parent, dependencies and propertyDependencies (reads never); the root stack resource's
 *   outputs are the stack outputs.
 * - opts: protect, ignoreChanges, aliases, customTimeouts, additionalSecretOutputs, deleteBeforeReplace, parent
 *   (AnalyzerResourceOptions has no retainOnDelete). stackTags: a frozen map set by ConfigureStack (empty unless the
 *   engine sends tags). getConfig(): the policy's config from --policy-pack-config without enforcementLevel, `{}`
 *   when none. notApplicable(reason) throws; the policy is skipped for that resource.
 * - Enforcement: the config's enforcementLevel, else the policy's, else the pack's (advisory); `disabled` skips,
 *   `remediate` reports as mandatory.
 * The deserializer and the proxy are the library's own modules, so a value reads the same here and there.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type {
  EnforcementLevel,
  Policy,
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { POLICIES } from "../../policies/all";
import { parseStackName } from "../naming";
import type { Violation } from "./plan";

/* eslint-disable @typescript-eslint/no-require-imports */
const { deserializeProperties } = require("@pulumi/policy/deserialize") as {
  deserializeProperties(
    struct: { toJavaScript(): Record<string, unknown> },
    proxySecrets: boolean,
  ): Record<string, unknown>;
};
const { unknownCheckingProxy, UnknownValueError } = require("@pulumi/policy/proxy") as {
  unknownCheckingProxy<T>(v: T): T;
  UnknownValueError: new (...a: unknown[]) => Error;
};
/* eslint-enable @typescript-eslint/no-require-imports */

export const POLICIES_DIR = path.resolve(__dirname, "..", "..", "policies");

/** One resource as the offline engine registered it, in the engine's wire format. */
export interface AnalyzedResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  /** Read, not managed (a StackReference): never handed to Analyze nor AnalyzeStack. */
  read?: boolean;
  /** Registered inputs (Analyze). */
  inputs: Record<string, unknown>;
  /** State after the update: a custom resource's outputs, a component's registered outputs (AnalyzeStack). */
  outputs: Record<string, unknown>;
  dependencies: string[];
  /** Per input property, the resources its value came from (AnalyzeStack's propertyDependencies). */
  propertyDependencies?: Record<string, string[]>;
  protect: boolean;
  ignoreChanges: string[];
  additionalSecretOutputs: string[];
  deleteBeforeReplace?: boolean;
}

/** The pack's config file shape (`--policy-pack-config`): a level, or an object with `enforcementLevel` and props. */
export type PackConfig = Record<
  string,
  EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

/** The committed pack config for a stack's environment: policies/config/<prod|dev|preview>.json. */
export function packConfigFor(stack: string): PackConfig {
  const file = path.join(POLICIES_DIR, "config", `${parseStackName(stack).kind}.json`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as PackConfig;
}

/** protoutil.normalizeConfig + the server's `configure`: a string is a level; other keys are the policy's props. */
function normalize(
  config: PackConfig,
): Record<string, { enforcementLevel?: EnforcementLevel; props: Record<string, unknown> }> {
  const out: Record<string, { enforcementLevel?: EnforcementLevel; props: Record<string, unknown> }> = {};
  for (const [name, v] of Object.entries(config)) {
    if (typeof v === "string") out[name] = { enforcementLevel: v, props: {} };
    else {
      const { enforcementLevel, ...props } = v;
      out[name] = { enforcementLevel, props };
    }
  }
  return out;
}

/** Drops `__` keys at every depth, as MarshalProperties(SkipInternalKeys) does. */
function skipInternalKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(skipInternalKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([k]) => !k.startsWith("__"))
        .map(([k, x]) => [k, skipInternalKeys(x)]),
    );
  }
  return v;
}

/** What a policy reads as `props`: the wire value deserialized and proxied by @pulumi/policy itself. */
export function policyProps(wire: Record<string, unknown>): Record<string, unknown> {
  const clean = skipInternalKeys(wire) as Record<string, unknown>;
  return unknownCheckingProxy(deserializeProperties({ toJavaScript: () => clean }, false));
}

class NotApplicable extends Error {}
const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason ?? "Policy does not apply");
};
const noTags = Object.freeze(new Map<string, string>()) as unknown as ReadonlyMap<string, string>;

function isResourcePolicy(p: Policy): p is ResourceValidationPolicy {
  return (
    typeof (p as ResourceValidationPolicy).validateResource === "function" ||
    Array.isArray((p as ResourceValidationPolicy).validateResource)
  );
}
function isStackPolicy(p: Policy): p is StackValidationPolicy {
  return typeof (p as StackValidationPolicy).validateStack === "function";
}
function isTypeOf(type: string, cls: unknown): boolean {
  const t = (cls as { __pulumiType?: string })?.__pulumiType;
  return typeof t === "string" ? t === type : false;
}

function opts(r: AnalyzedResource) {
  return {
    protect: r.protect,
    ignoreChanges: r.ignoreChanges,
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: r.additionalSecretOutputs,
    ...(r.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
    ...(r.parent ? { parent: r.parent } : {}),
  };
}

export interface AnalyzeOptions {
  /** The pack config; the committed one for the stack's environment when absent. */
  config?: PackConfig;
  /** Defaults to the pack's list (policies/all.ts). */
  policies?: Policy[];
  packName?: string;
  packVersion?: string;
}

/** Runs every enabled policy over the resources, as Analyze (per resource) and AnalyzeStack (once) would. */
export async function analyzeResources(
  resources: AnalyzedResource[],
  options: AnalyzeOptions = {},
): Promise<Violation[]> {
  const policies = options.policies ?? POLICIES;
  const config = normalize(options.config ?? {});
  const pack = `'${options.packName ?? PACK_NAME}@v${options.packVersion ?? packVersion()}'`;
  const out: Violation[] = [];

  for (const p of policies) {
    let level: EnforcementLevel = config[p.name]?.enforcementLevel || p.enforcementLevel || "advisory";
    if (level === "disabled") continue;
    if (level === "remediate") level = "mandatory";
    const enforcement = level as Violation["enforcement"];
    const getConfig = <T extends object>() => (config[p.name]?.props ?? {}) as T;
    const preview = (e: Error): Violation => ({
      policy: p.name,
      enforcement: "advisory",
      message: `can't run policy '${p.name}' from policy pack ${pack} during preview: ${e.message}`,
    });

    if (isResourcePolicy(p)) {
      const validations = Array.isArray(p.validateResource) ? p.validateResource : [p.validateResource!];
      for (const r of resources) {
        if (r.read) continue;
        for (const validate of validations) {
          const props = policyProps(r.inputs);
          const report: ReportViolation = (message, urn) =>
            out.push({ policy: p.name, enforcement, urn: urn ?? r.urn, message: String(message ?? p.description) });
          const args: ResourceValidationArgs = {
            type: r.type,
            props,
            urn: r.urn,
            name: r.name,
            opts: opts(r),
            stackTags: noTags,
            isType: (cls) => isTypeOf(r.type, cls),
            asType: ((cls: unknown) => (isTypeOf(r.type, cls) ? props : undefined)) as ResourceValidationArgs["asType"],
            getConfig,
            notApplicable,
          };
          try {
            await validate(args, report);
          } catch (e) {
            if (e instanceof NotApplicable || (e as Error)?.constructor?.name === "NotApplicableError") continue;
            if (e instanceof UnknownValueError) out.push({ ...preview(e as Error), urn: r.urn });
            else
              throw new Error(
                `Error validating resource with policy '${p.name}' from policy pack ${pack}: ${(e as Error).message}`,
              );
          }
        }
      }
    }
    if (isStackPolicy(p)) {
      const byUrn = new Map<string, PolicyResource>();
      // Reads (a StackReference, `.get`) go to the deployment's reads, never to its news, and AnalyzeStack is
      // handed the news only (pulumi v3.248.0 pkg/resource/deploy/step_executor.go, step_generator.go
      // AnalyzeResources): a policy never sees them.
      const managed = resources.filter((r) => !r.read);
      const stackResources = managed.map((r) => {
        const props = policyProps(r.outputs);
        const res: PolicyResource = {
          type: r.type,
          props,
          urn: r.urn,
          name: r.name,
          opts: opts(r),
          dependencies: [],
          propertyDependencies: {},
          isType: (cls) => isTypeOf(r.type, cls),
          asType: ((cls: unknown) => (isTypeOf(r.type, cls) ? props : undefined)) as PolicyResource["asType"],
        };
        byUrn.set(r.urn, res);
        return res;
      });
      managed.forEach((r, i) => {
        const res = stackResources[i]!;
        if (r.parent && byUrn.has(r.parent)) res.parent = byUrn.get(r.parent);
        res.dependencies = r.dependencies.map((d) => byUrn.get(d)).filter((d): d is PolicyResource => !!d);
        res.propertyDependencies = Object.fromEntries(
          Object.entries(r.propertyDependencies ?? {}).map(([k, urns]) => [
            k,
            urns.map((d) => byUrn.get(d)).filter((d): d is PolicyResource => !!d),
          ]),
        );
      });
      const report: ReportViolation = (message, urn) =>
        out.push({ policy: p.name, enforcement, ...(urn ? { urn } : {}), message: String(message ?? p.description) });
      const args: StackValidationArgs = { resources: stackResources, getConfig, stackTags: noTags, notApplicable };
      try {
        await p.validateStack(args, report);
      } catch (e) {
        if (e instanceof NotApplicable || (e as Error)?.constructor?.name === "NotApplicableError") continue;
        if (e instanceof UnknownValueError) out.push(preview(e as Error));
        else
          throw new Error(
            `Error validating stack with policy '${p.name}' from policy pack ${pack}: ${(e as Error).message}`,
          );
      }
    }
  }
  return out;
}

export const PACK_NAME = "mauntic-infra";
function packVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(POLICIES_DIR, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * The policies over one stack's plan, with the committed pack config of its environment. A finding about the whole
 * stack is reported against the root stack resource, as `pulumi preview` shows it, so every violation has a URN.
 */
export async function analyzePlan(stack: string, resources: AnalyzedResource[]): Promise<Violation[]> {
  const root = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn;
  const found = await analyzeResources(resources, { config: packConfigFor(stack) });
  return found.map((v) =>
    v.urn || !root ? v : { policy: v.policy, enforcement: v.enforcement, urn: root, message: v.message },
  );
}
