/**
 * What the offline engine answers in place of real providers: the outputs a real create would return (ids, hosts),
 * shaped like the real ones so components compute the same derived values (pooled host, bindings) offline.
 * Each provider folder contributes its own fake outputs; this file only routes by type token.
 */
import type * as pulumi from "@pulumi/pulumi";

type Outputs = Record<string, unknown>;
type OutputFaker = (name: string, inputs: Outputs, stack: string) => Outputs;

const fakers: { prefix: string; fake: OutputFaker }[] = [];

/** Registers fake outputs for type tokens starting with `prefix` (a provider folder calls this). */
export function registerMockOutputs(prefix: string, fake: OutputFaker): void {
  fakers.push({ prefix, fake });
}

/** A stable fake id: the same name always gets the same id, so plans diff cleanly. */
export function fakeId(name: string, length = 32): string {
  let h = 2166136261;
  let out = "";
  while (out.length < length) {
    for (const c of `${name}:${out.length}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  return out.slice(0, length);
}

type IdFaker = (name: string, inputs: Outputs, stack: string) => string;
const idFakers: { prefix: string; fake: IdFaker }[] = [];

/**
 * Registers fake ids for type tokens starting with `prefix`, shaped like the provider's, for resources whose id
 * other resources take (a Neon project's and branch's); others get `<name>-id`.
 */
export function registerMockId(prefix: string, fake: IdFaker): void {
  idFakers.push({ prefix, fake });
}

export function mockId(type: string, name: string, inputs: Outputs, stack: string): string {
  for (const { prefix, fake } of idFakers) if (type.startsWith(prefix)) return fake(name, inputs, stack);
  return `${name}-id`;
}

export function mockOutputs(type: string, name: string, inputs: Outputs, stack: string): Outputs {
  if (type === "pulumi:pulumi:StackReference") return { outputs: stackReferenceOutputs(String(inputs.name ?? name)) };
  for (const { prefix, fake } of fakers) if (type.startsWith(prefix)) return fake(name, inputs, stack);
  return {};
}

/** Outputs of another stack, as a StackReference would read them (previews read dev's Neon project). */
const stackReferences = new Map<string, Outputs>();
export function registerStackReferenceOutputs(stackName: string, outputs: Outputs): void {
  stackReferences.set(stackName, outputs);
}
function stackReferenceOutputs(stackName: string): Outputs {
  return stackReferences.get(stackName) ?? {};
}

export function mockCall(token: string, _inputs: Outputs, _stack: string): pulumi.runtime.MockCallResult {
  throw new Error(`offline engine: no mock for function ${token}`);
}
