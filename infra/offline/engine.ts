/**
 * The offline engine: runs the real Pulumi program for a stack under `pulumi.runtime.setMocks` (no CLI, no
 * credentials, no network) and records a Plan. It must run as CommonJS (the CLI under tsx): dynamic providers are
 * serialized at registration, which fails under an ESM transform.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../config/schema";
import { configFileOf, readStackFile, stackConfigFromValues } from "../config/load";
import { parseStackName } from "../naming";
import { mockCall, mockId, mockOutputs } from "./mocks";
import { dependencyDepth, SECRET, UNKNOWN, type Plan, type PlanResource } from "./plan";
import { analyzePlan, type AnalyzedResource } from "./policies";

// Internal to @pulumi/pulumi, and how its Automation API runs inline programs side by side (automation/server.js):
// each run gets its own LocalStore (settings, config, monitor, stack resource) through AsyncLocalStorage.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { withLocalStorage } = require("@pulumi/pulumi/runtime/state") as {
  withLocalStorage<T>(fn: () => Promise<T>): Promise<T>;
};

/** The secret and unknown signatures of Pulumi's wire format (sdk/nodejs/runtime/rpc.ts). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";

/** Wire value -> plan value: secrets masked, unknowns marked, resource references as URNs, dynamic providers elided. */
export function maskWire(v: unknown, key?: string): unknown {
  if (key === "__provider") return "[dynamic provider]";
  if (v === UNKNOWN_VALUE) return UNKNOWN;
  if (Array.isArray(v)) return v.map((x) => maskWire(x));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return SECRET;
    if (o[SIG_KEY] === RESOURCE_SIG) return o.urn;
    if (o[SIG_KEY] !== undefined && "value" in o) return maskWire(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, maskWire(x, k)]));
  }
  return v;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getDependenciesList(): string[];
  getProvider(): string;
  getProtect(): boolean;
  getRetainondelete?(): boolean;
  getAdditionalsecretoutputsList(): string[];
  getIgnorechangesList(): string[];
  getDeletebeforereplace(): boolean;
  getPropertydependenciesMap(): { entries(): Iterable<[string, { getUrnsList(): string[] }]> } | undefined;
}

/** Per input property, the resources its value came from (what AnalyzeStack hands policies as propertyDependencies). */
function propertyDependencies(req: RegisterRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of req.getPropertydependenciesMap()?.entries() ?? []) out[k] = [...new Set(v.getUrnsList())];
  return out;
}

interface ReadRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getId(): string;
  getProperties(): { toJavaScript(): Record<string, unknown> } | undefined;
  getDependenciesList(): string[];
  getProvider(): string;
}

interface MockMonitorLike {
  newUrn(parent: string, type: string, name: string): string;
  readResource(
    req: ReadRequest,
    cb: (err: unknown, resp?: { getUrn(): string; getObject?(): { toJavaScript(): Record<string, unknown> } }) => void,
  ): Promise<void>;
  registerResource(
    req: RegisterRequest,
    cb: (err: unknown, resp?: { getUrn(): string; getObject?(): { toJavaScript(): Record<string, unknown> } }) => void,
  ): Promise<void>;
  registerResourceOutputs(
    req: { getUrn(): string; getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined },
    cb: (err: unknown, resp?: unknown) => void,
  ): void;
}

export interface OfflineOptions {
  /** Evaluate this stack file instead of the committed Pulumi.<stack>.yaml. */
  configFile?: string;
  /**
   * Model `pulumi preview` of a change to every managed resource (an update of each: ids known), as the engine
   * runs it: a provider without preview support returns the inputs as the state (pulumi v3.248.0
   * sdk/go/common/resource/plugin/provider_plugin.go Create/Update: `if !protocol.supportsPreview` return the
   * inputs), and the dynamic provider declares none (sdk/nodejs/cmd/dynamic-provider/index.ts configure); a
   * bridged provider's computed outputs are unknown too. So every output that is not an input (an endpoint's
   * host, a config's id) is unknown: the SDK resolves an output missing from the response as unknown during a
   * dry run (sdk/nodejs/runtime/rpc.ts resolveProperties), and AnalyzeStack gets the inputs as outputs.
   * Reads (a StackReference) still answer, as they do in a preview.
   */
  preview?: boolean;
}

/** A plan with its policy verdicts, and how long each half took (the `check` benchmark prints the split). */
export interface OfflineRun {
  plan: Plan;
  /** What the policy analyzer was handed: the wire values, secrets and unknowns as the engine sends them. */
  analyzed: AnalyzedResource[];
  programMs: number;
  policiesMs: number;
}

/** Runs the program for a stack, then the policy pack's policies over what it declared (`violations`). */
export async function runOffline(stack: string, opts: OfflineOptions = {}): Promise<Plan> {
  return (await runOfflineTimed(stack, opts)).plan;
}

/**
 * Each run has its own Pulumi runtime state, so several stacks can be planned in one process (`check` plans dev,
 * prod and a preview one after another). Runs are serialised: the program module and mocks are shared.
 */
/**
 * A program that throws leaves its error rejected in promises of the runtime that nobody awaits (the stack
 * resource's outputs): once a run has rejected with it, those copies must not crash a process that goes on working
 * (rehearse's database part, `check`'s other stacks). Any other unhandled rejection still does. One listener for the
 * process, since runs repeat in it.
 */
const programErrors = new Set<unknown>();
let watching = false;
function watchProgramErrors(): void {
  if (watching) return;
  watching = true;
  process.on("unhandledRejection", (reason) => {
    if (!programErrors.has(reason)) throw reason;
  });
}

let queue: Promise<unknown> = Promise.resolve();
export function runOfflineTimed(stack: string, opts: OfflineOptions = {}): Promise<OfflineRun> {
  const run = queue.then(
    () => withLocalStorage(() => runProgram(stack, opts)),
    () => withLocalStorage(() => runProgram(stack, opts)),
  );
  queue = run.catch(() => undefined);
  return run;
}

async function runProgram(stack: string, opts: OfflineOptions): Promise<OfflineRun> {
  const t0 = performance.now();
  const { kind } = parseStackName(stack);
  // One read of the stack file: validated first, naming the file, so a bad config fails before any resource is
  // declared; then handed to the program exactly as the engine would (namespaced keys, JSON for objects). A
  // preview stack with no file of its own gets no config, so the program derives it from dev's file as under
  // `pulumi up`.
  const file = configFileOf(stack, opts);
  const raw = readStackFile(file);
  stackConfigFromValues(stack, raw.values, raw.source);
  const config: Record<string, string> = {};
  // A preview reading dev's file gets no config of its own (the program derives it, as under `pulumi up`).
  if (opts.configFile || kind !== "preview" || file !== configFileOf("dev")) {
    for (const [k, v] of Object.entries(raw.values)) {
      config[`${CONFIG_NAMESPACE}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
  }
  pulumi.runtime.setAllConfig(config);

  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        // A registration (no id asked for) in a preview: its state is its inputs and its id unknown (an empty id in a
        // dry run, as the engine answers a create it has not made); a read answers as usual.
        if (opts.preview && !args.id) return { id: "", state: args.inputs };
        const state = { ...args.inputs, ...mockOutputs(args.type, args.name, args.inputs, stack) };
        return { id: args.id || mockId(args.type, args.name, args.inputs, stack), state };
      },
      call: (args) => mockCall(args.token, args.inputs, stack),
    },
    "mauntic-infra",
    stack,
    opts.preview === true,
    "mauntic",
  );

  const resources: PlanResource[] = [];
  const analyzed: AnalyzedResource[] = [];
  let outputs: Record<string, unknown> = {};
  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorLike;
  // URNs as the engine makes them: the parent's whole qualified type, except the root stack's
  // (pulumi pkg/resource/deploy/deployment.go generateURN); the SDK's mocks prefix the parent's last type, the stack's too.
  monitor.newUrn = (parent, type, name) => {
    const parentType = parent ? parent.split("::")[2]! : "";
    const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
    return `urn:pulumi:${[pulumi.getStack(), pulumi.getProject(), qualified, name].join("::")}`;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = async (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) {
        const wire = req.getObject()?.toJavaScript() ?? {};
        const inputs = (maskWire(wire) ?? {}) as Record<string, unknown>;
        analyzed.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent() || undefined,
          custom: req.getCustom(),
          inputs: wire,
          // In a preview the engine hands AnalyzeStack the inputs as the outputs, unknowns included.
          outputs: opts.preview && req.getCustom() ? wire : (resp.getObject?.()?.toJavaScript() ?? wire),
          dependencies: [...new Set(req.getDependenciesList())],
          propertyDependencies: propertyDependencies(req),
          protect: req.getProtect(),
          ignoreChanges: req.getIgnorechangesList(),
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          deleteBeforeReplace: req.getDeletebeforereplace(),
        });
        resources.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          ...(req.getParent() ? { parent: req.getParent() } : {}),
          custom: req.getCustom(),
          inputs,
          dependsOn: [...new Set(req.getDependenciesList())].sort(),
          ...(req.getProvider() ? { provider: req.getProvider() } : {}),
          protect: req.getProtect(),
          retainOnDelete: req.getRetainondelete?.() ?? false,
        });
      }
      cb(err, resp);
    });
  // Reads (a StackReference, for one) are steps too: recorded so that everything waiting on them has its edge.
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = async (req, cb) =>
    read(req, (err, resp) => {
      if (!err && resp) {
        const wire = req.getProperties()?.toJavaScript() ?? {};
        analyzed.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent() || undefined,
          custom: true,
          read: true,
          inputs: wire,
          outputs: { ...wire, ...(resp.getObject?.()?.toJavaScript() ?? {}) },
          dependencies: [...new Set(req.getDependenciesList())],
          protect: false,
          ignoreChanges: [],
          additionalSecretOutputs: [],
        });
        resources.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          ...(req.getParent() ? { parent: req.getParent() } : {}),
          custom: true,
          read: true,
          inputs: (maskWire(req.getProperties()?.toJavaScript() ?? {}) ?? {}) as Record<string, unknown>,
          dependsOn: [...new Set(req.getDependenciesList())].sort(),
          ...(req.getProvider() ? { provider: req.getProvider() } : {}),
          protect: false,
          retainOnDelete: false,
        });
      }
      cb(err, resp);
    });
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, cb) => {
    const registered = analyzed.find((r) => r.urn === req.getUrn());
    if (registered) registered.outputs = req.getOutputs()?.toJavaScript() ?? {};
    if (req.getUrn().includes("::pulumi:pulumi:Stack::")) {
      outputs = maskWire(req.getOutputs()?.toJavaScript() ?? {}) as Record<string, unknown>;
    }
    registerOutputs(req, cb);
  };

  // The program is the same default export `pulumi up` runs.
  const program = require("../index") as () => Promise<Record<string, unknown>>;
  watchProgramErrors();
  try {
    await pulumi.runtime.runInPulumiStack(program);
  } catch (e) {
    programErrors.add(e);
    throw e;
  }
  await pulumi.runtime.disconnect();
  const programMs = performance.now() - t0;

  const t1 = performance.now();
  const violations = await analyzePlan(stack, analyzed);
  const plan: Plan = { stack, resources, outputs, depth: dependencyDepth(resources), violations };
  return { plan, analyzed, programMs, policiesMs: performance.now() - t1 };
}
