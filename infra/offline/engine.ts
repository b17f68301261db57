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
  readResource(req: ReadRequest, cb: (err: unknown, resp?: { getUrn(): string }) => void): Promise<void>;
  registerResource(req: RegisterRequest, cb: (err: unknown, resp?: { getUrn(): string }) => void): Promise<void>;
  registerResourceOutputs(
    req: { getUrn(): string; getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined },
    cb: (err: unknown, resp?: unknown) => void,
  ): void;
}

export interface OfflineOptions {
  /** Evaluate this stack file instead of the committed Pulumi.<stack>.yaml. */
  configFile?: string;
}

let ran = false;

/**
 * Runs the program once per process: Pulumi's runtime state is global, so a second run in one process would mix
 * resources. The CLI runs one stack per invocation.
 */
export async function runOffline(stack: string, opts: OfflineOptions = {}): Promise<Plan> {
  if (ran) throw new Error("runOffline runs one stack per process");
  ran = true;
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
        const state = { ...args.inputs, ...mockOutputs(args.type, args.name, args.inputs, stack) };
        return { id: args.id || mockId(args.type, args.name, args.inputs, stack), state };
      },
      call: (args) => mockCall(args.token, args.inputs, stack),
    },
    "mauntic-infra",
    stack,
    false,
    "mauntic",
  );

  const resources: PlanResource[] = [];
  let outputs: Record<string, unknown> = {};
  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorLike;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = async (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) {
        const inputs = (maskWire(req.getObject()?.toJavaScript() ?? {}) ?? {}) as Record<string, unknown>;
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
    if (req.getUrn().includes("::pulumi:pulumi:Stack::")) {
      outputs = maskWire(req.getOutputs()?.toJavaScript() ?? {}) as Record<string, unknown>;
    }
    registerOutputs(req, cb);
  };

  // The program is the same default export `pulumi up` runs.
  const program = require("../index") as () => Promise<Record<string, unknown>>;
  // A program that throws leaves its error rejected in promises of the runtime that nobody awaits (the stack
  // resource's outputs): once this call has rejected with it, those copies must not crash a process that goes on
  // working (rehearse's database part). Any other unhandled rejection still does.
  process.on("unhandledRejection", (reason) => {
    if (reason !== programError) throw reason;
  });
  let programError: unknown;
  try {
    await pulumi.runtime.runInPulumiStack(program);
  } catch (e) {
    programError = e;
    throw e;
  }
  await pulumi.runtime.disconnect();

  return { stack, resources, outputs, depth: dependencyDepth(resources), violations: [] };
}
