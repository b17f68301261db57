/**
 * Drives one dynamic provider through the sequences the Pulumi engine runs, so provider tests see what a real
 * `pulumi preview` / `pulumi up` / `pulumi refresh` / `pulumi destroy` hands them. Written by hand: Pulumi ships no
 * engine that runs without its CLI (mocks skip the provider entirely), and none can be installed here.
 *
 * What it models, and where each rule was read (pulumi/pulumi at 1b59498, and @pulumi/pulumi 3.248 in node_modules):
 * - `@pulumi/pulumi/cmd/dynamic-provider/index.js`: check(olds = old *inputs*, news); diff(id, olds = old *outputs*,
 *   news = checked inputs); create(checked inputs); update(id, old outputs, new inputs) whose `outs` become the whole
 *   new state (`resultIncludingProvider(result.outs, news)`: no `outs`, no outputs); delete(id, old outputs);
 *   read(id, current outputs), where an empty id means "gone"; every value crosses gRPC as a
 *   `google.protobuf.Struct` (`Struct.fromJavaScript`, which throws on `undefined`); `__provider` rides along.
 * - `@pulumi/pulumi/runtime/rpc.js`: the unknown placeholder `unknownValue`; `serializeFilteredProperties` drops
 *   undefined inputs; `resolveProperties` resolves, during a dry run, every declared property the engine did not
 *   return as unknown (that is how a child's `branch_id` becomes unknown while its parent previews an update).
 * - `@pulumi/pulumi/dynamic/index.js`: the resource's props hold `__provider`, its declared outputs as undefined.
 * - `sdk/go/common/resource/plugin/provider_plugin.go`: Check marshals news with `KeepUnknowns: AllowUnknowns` (true
 *   only in preview; an up rejects unknowns); Diff sends `Olds: oldOutputs`; Create/Update in a preview never reach a
 *   provider without preview support (dynamic providers' Configure does not set it) and return the new inputs as
 *   the state; Read's empty id means deleted.
 * - `pkg/resource/deploy/step_generator.go`: Check gets no olds for a new resource or a replacement (and is re-run
 *   without olds once a replacement is decided); a diff with no changes is a SameStep (new inputs, old outputs, no
 *   provider write); DiffUnknown falls back to the engine's own diff of old and new inputs; replacement is
 *   create-before-delete unless the diff (or the resource option) asks deleteBeforeReplace, and in
 *   create-before-delete "the delete step is generated later on, after all creates/updates finish"; a protected
 *   resource cannot be replaced.
 * - `pkg/resource/deploy/step.go`: RefreshStep drops a resource whose Read returned no id and keeps old inputs
 *   unless Read returned some; DeleteStep refuses a protected resource and skips the provider for retainOnDelete;
 *   CreateStep requires a non-empty id.
 * State is also written to JSON between steps, as the checkpoint file holds it.
 */
import type * as pulumi from "@pulumi/pulumi";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

/** The engine's unknown placeholder (`@pulumi/pulumi/runtime/rpc.js` `unknownValue`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const PROVIDER_KEY = "__provider";

export type EngineOp = "create" | "same" | "update" | "replace";

export interface EngineLifecycleOptions {
  /** Resource name, for messages. */
  name?: string;
  /** Type token, for messages. */
  type?: string;
  /**
   * The resource's declared output-only properties (those its class passes as `undefined`): in a preview they reach
   * dependents as UNKNOWN unless the engine returned them.
   */
  outputs?: readonly string[];
  /** `protect: true`: no replacement, no delete. */
  protect?: boolean;
  /** `retainOnDelete: true`: delete (and the delete half of a replacement) never calls the provider. */
  retainOnDelete?: boolean;
  /** The resource option `deleteBeforeReplace`, which overrides the provider's answer. */
  deleteBeforeReplace?: boolean;
}

export interface EngineState<I> {
  id: string;
  inputs: I;
  outs: Record<string, unknown>;
}

export interface PreviewResult {
  op: EngineOp;
  diff?: pulumi.dynamic.DiffResult;
  /** The id dependents see: the old one for same/update, UNKNOWN for create/replace. */
  id: string;
  /** What dependents see: old outputs for same; otherwise the new inputs, declared outputs UNKNOWN. */
  outs: Record<string, unknown>;
}

export interface UpResult {
  op: EngineOp;
  id: string;
  outs: Record<string, unknown>;
  diff?: pulumi.dynamic.DiffResult;
}

/** A resource that a create-before-delete replacement left for the end of the deployment. */
export interface PendingDelete {
  id: string;
  outs: Record<string, unknown>;
}

/** True when the value holds the unknown placeholder anywhere. */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** One trip over gRPC (Struct, as the dynamic provider host converts) and into the checkpoint (JSON). */
function wire<T>(value: T, what: string): T {
  let struct;
  try {
    struct = Struct.fromJavaScript(value as never).toJavaScript();
  } catch (e) {
    throw new Error(`${what}: the engine cannot carry this value (${(e as Error).message}): ${describe(value)}`);
  }
  return JSON.parse(JSON.stringify(struct)) as T;
}

function describe(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x === undefined ? "<undefined>" : x));
}

const withoutProvider = (m: Record<string, unknown>) => {
  const { [PROVIDER_KEY]: _p, ...rest } = m;
  return rest;
};

export class EngineLifecycle<I extends Record<string, unknown>> {
  readonly calls: string[] = [];
  /** Old resources a create-before-delete replacement left for `deletePending()` (the end of the deployment). */
  readonly pendingDeletes: PendingDelete[] = [];
  private current?: { id: string; inputs: Record<string, unknown>; outs: Record<string, unknown> };
  private readonly name: string;
  private readonly type: string;
  /** Stands in for the serialized provider text the SDK stores under `__provider`. */
  private readonly providerText: string;

  constructor(
    private readonly provider: pulumi.dynamic.ResourceProvider,
    private readonly opts: EngineLifecycleOptions = {},
  ) {
    this.name = opts.name ?? "resource";
    this.type = opts.type ?? "pulumi-nodejs:dynamic:Resource";
    this.providerText = `exports.handler = /* ${this.type} */ () => provider;`;
  }

  /** What the checkpoint holds for this resource (without `__provider`), or undefined when it holds nothing. */
  get state(): EngineState<I> | undefined {
    if (!this.current) return undefined;
    return {
      id: this.current.id,
      inputs: withoutProvider(this.current.inputs) as I,
      outs: withoutProvider(this.current.outs),
    };
  }

  /** Puts a resource into state as if an earlier deployment had created it (e.g. an import or an older stack). */
  seed(state: EngineState<I>): void {
    this.current = {
      id: state.id,
      inputs: wire({ ...state.inputs, [PROVIDER_KEY]: this.providerText }, "seed inputs"),
      outs: wire({ ...state.outs, [PROVIDER_KEY]: this.providerText }, "seed outputs"),
    };
  }

  /** `pulumi preview`: check and diff only; inputs may hold UNKNOWN where they depend on outputs not yet known. */
  async preview(inputs: I): Promise<PreviewResult> {
    const news = this.programInputs(inputs);
    const old = this.current;
    const checked = await this.check(old && old.inputs, news, true);
    if (!old) return { op: "create", id: UNKNOWN, outs: this.previewOutputs(checked) };
    const diff = await this.diff(old, checked);
    const op = this.decide(old, checked, diff);
    if (op === "same") return { op, diff, id: old.id, outs: withoutProvider(old.outs) };
    if (op === "replace") {
      this.refuseProtectedReplace();
      const rechecked = await this.check(undefined, news, true);
      return { op, diff, id: UNKNOWN, outs: this.previewOutputs(rechecked) };
    }
    // A dynamic provider has no preview support: the engine answers an update's preview with the new inputs.
    return { op, diff, id: old.id, outs: this.previewOutputs(checked) };
  }

  /**
   * `pulumi up` for this resource: check, diff, then create / nothing / update / replace in the engine's order.
   * With `deferDelete`, a create-before-delete replacement leaves the old resource in `pendingDeletes` for
   * `deletePending()`, as the engine deletes it only after every create and update of the deployment.
   */
  async up(inputs: I, opts: { deferDelete?: boolean } = {}): Promise<UpResult> {
    if (containsUnknown(inputs)) {
      throw new Error(`${this.name}: an up never sees unknown inputs (the SDK waits for them): ${describe(inputs)}`);
    }
    const news = this.programInputs(inputs);
    const old = this.current;
    if (!old) {
      const checked = await this.check(undefined, news, false);
      await this.createInto(checked);
      return { op: "create", id: this.current!.id, outs: withoutProvider(this.current!.outs) };
    }
    const checked = await this.check(old.inputs, news, false);
    const diff = await this.diff(old, checked);
    const op = this.decide(old, checked, diff);
    if (op === "same") {
      this.current = { id: old.id, inputs: checked, outs: old.outs };
    } else if (op === "update") {
      this.calls.push("update");
      const result = await this.provider.update!(old.id, this.copy(old.outs), this.copy(checked));
      const outs = wire({ ...(result?.outs ?? {}), [PROVIDER_KEY]: checked[PROVIDER_KEY] }, `${this.name}: update`);
      this.current = { id: old.id, inputs: checked, outs };
    } else {
      this.refuseProtectedReplace();
      const rechecked = await this.check(undefined, news, false);
      const deleteFirst = this.opts.deleteBeforeReplace ?? diff.deleteBeforeReplace === true;
      if (deleteFirst) {
        await this.deleteOld(old);
        this.current = undefined;
        await this.createInto(rechecked);
      } else {
        await this.createInto(rechecked);
        if (opts.deferDelete) this.pendingDeletes.push({ id: old.id, outs: old.outs });
        else await this.deleteOld(old);
      }
    }
    return { op, id: this.current!.id, outs: withoutProvider(this.current!.outs), diff };
  }

  /** The end of the deployment: deletes what create-before-delete replacements left behind, oldest first. */
  async deletePending(): Promise<void> {
    while (this.pendingDeletes.length) {
      // It stays pending (in state) until its delete succeeds.
      await this.deleteOld(this.pendingDeletes[0]!);
      this.pendingDeletes.shift();
    }
  }

  /** `pulumi refresh`: read(); a resource read back without an id is dropped from state. */
  async refresh(): Promise<{ gone: boolean }> {
    const old = this.current;
    if (!old) return { gone: true };
    if (!this.provider.read) return { gone: false };
    this.calls.push("read");
    const result = await this.provider.read(old.id, this.copy(old.outs));
    if (!result?.id) {
      this.current = undefined;
      return { gone: true };
    }
    const outs = wire({ ...(result.props ?? {}), [PROVIDER_KEY]: old.outs[PROVIDER_KEY] }, `${this.name}: read`);
    const inputs = (result as { inputs?: Record<string, unknown> }).inputs;
    this.current = {
      id: result.id,
      inputs: inputs ? wire({ ...inputs, [PROVIDER_KEY]: old.outs[PROVIDER_KEY] }, `${this.name}: read`) : old.inputs,
      outs,
    };
    return { gone: false };
  }

  /** `pulumi destroy` of this resource: delete() of what state holds, then state holds nothing. */
  async destroy(): Promise<void> {
    await this.deletePending();
    const old = this.current;
    if (!old) return;
    if (this.opts.protect) {
      throw new Error(`${this.name}: resource cannot be deleted because it is protected (the engine refuses)`);
    }
    await this.deleteOld(old);
    this.current = undefined;
  }

  // ---- the engine's steps ---------------------------------------------------------------------------------------

  /** The program's inputs as the SDK registers them: undefined dropped, `__provider` added, through the wire. */
  private programInputs(inputs: I): Record<string, unknown> {
    const defined = Object.fromEntries(Object.entries(inputs).filter(([, v]) => v !== undefined));
    return wire({ ...defined, [PROVIDER_KEY]: this.providerText }, `${this.name}: inputs`);
  }

  private copy(m: Record<string, unknown>): Record<string, unknown> {
    return wire(m, this.name);
  }

  private async check(
    olds: Record<string, unknown> | undefined,
    news: Record<string, unknown>,
    preview: boolean,
  ): Promise<Record<string, unknown>> {
    let inputs = this.copy(news);
    if (this.provider.check) {
      this.calls.push("check");
      const result = await this.provider.check(this.copy(olds ?? {}), this.copy(news));
      if (result.failures?.length) {
        const list = result.failures.map((f) => `${f.property}: ${f.reason}`).join("; ");
        throw new Error(`${this.name}: check failed: ${list}`);
      }
      if (result.inputs) inputs = result.inputs;
    }
    const checked = wire({ ...inputs, [PROVIDER_KEY]: news[PROVIDER_KEY] }, `${this.name}: check`);
    if (!preview && containsUnknown(checked)) {
      throw new Error(`${this.name}: check returned unknown inputs outside a preview: ${describe(checked)}`);
    }
    return checked;
  }

  private async diff(
    old: { id: string; inputs: Record<string, unknown>; outs: Record<string, unknown> },
    news: Record<string, unknown>,
  ): Promise<pulumi.dynamic.DiffResult> {
    if (!this.provider.diff) return {};
    this.calls.push("diff");
    return (await this.provider.diff(old.id, this.copy(old.outs), this.copy(news))) ?? {};
  }

  private decide(
    old: { inputs: Record<string, unknown> },
    news: Record<string, unknown>,
    diff: pulumi.dynamic.DiffResult,
  ): EngineOp {
    let changes = diff.changes;
    // DiffUnknown: the engine diffs old and new inputs itself (an unknown differs from anything).
    if (changes === undefined) changes = JSON.stringify(old.inputs) !== JSON.stringify(news);
    if (!changes) return "same";
    return diff.replaces?.length ? "replace" : "update";
  }

  private previewOutputs(inputs: Record<string, unknown>): Record<string, unknown> {
    const outs = withoutProvider(inputs);
    for (const k of this.opts.outputs ?? []) if (!(k in outs)) outs[k] = UNKNOWN;
    return outs;
  }

  private refuseProtectedReplace(): void {
    if (this.opts.protect) {
      throw new Error(`${this.name}: unable to replace resource as it is currently marked for protection`);
    }
  }

  private async createInto(inputs: Record<string, unknown>): Promise<void> {
    this.calls.push("create");
    const result = await this.provider.create(this.copy(inputs));
    if (!result.id) throw new Error(`${this.name}: provider did not return an ID from Create`);
    const outs = wire({ ...(result.outs ?? {}), [PROVIDER_KEY]: inputs[PROVIDER_KEY] }, `${this.name}: create`);
    this.current = { id: result.id, inputs, outs };
  }

  private async deleteOld(old: { id: string; outs: Record<string, unknown> }): Promise<void> {
    if (this.opts.retainOnDelete) return;
    if (!this.provider.delete) return;
    this.calls.push("delete");
    await this.provider.delete(old.id, this.copy(old.outs));
  }
}
