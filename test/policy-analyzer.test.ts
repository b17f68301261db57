/**
 * The offline harness against the real thing: the policy pack started as the Pulumi CLI starts it (policies/index.ts
 * in its folder: a PolicyPack serving @pulumi/policy's analyzer over gRPC), configured with the committed prod pack
 * config and fed the prod plan the way the engine feeds it (Analyze per resource with its inputs, AnalyzeStack with
 * every resource's outputs; properties marshalled with secrets kept and `__` keys skipped, as analyzer_plugin.go
 * does). Both must give the same verdicts, including a policy that reads an unknown during preview.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeResources, packConfigFor, type AnalyzedResource } from "../infra/offline/policies";
import { named, planOf, plain } from "../policies/testing";
import { ROOT } from "./helpers/cli";

const req = createRequire(__filename);
/* eslint-disable @typescript-eslint/no-explicit-any */
const grpc = req("@grpc/grpc-js") as any;
const analyzerPb = req("@pulumi/pulumi/proto/analyzer_pb") as any;
const { AnalyzerClient } = req("@pulumi/pulumi/proto/analyzer_grpc_pb") as any;
const { Struct } = req("google-protobuf/google/protobuf/struct_pb") as any;
const { Empty } = req("google-protobuf/google/protobuf/empty_pb") as any;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The engine's unknown string placeholder (sdk/go/common/resource/plugin/rpc.go UnknownStringValue). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const LEVELS = ["advisory", "mandatory", "disabled", "remediate"] as const;

/** MarshalProperties(SkipInternalKeys): keys starting with `__` never reach an analyzer. */
function skipInternal(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(skipInternal);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !k.startsWith("__"))
        .map(([k, x]) => [k, skipInternal(x)]),
    );
  }
  return v;
}

function options(r: AnalyzedResource) {
  const o = new analyzerPb.AnalyzerResourceOptions();
  o.setProtect(r.protect);
  o.setIgnorechangesList(r.ignoreChanges);
  o.setAdditionalsecretoutputsList(r.additionalSecretOutputs);
  if (r.parent) o.setParent(r.parent);
  return o;
}

let pack: ChildProcess;
let client: any; // eslint-disable-line @typescript-eslint/no-explicit-any
const call = <T>(method: string, request: unknown) =>
  new Promise<T>((resolve, reject) =>
    client[method](request, (err: Error | null, resp: T) => (err ? reject(err) : resolve(resp))),
  );

beforeAll(async () => {
  // As `pulumi preview --policy-pack policies` runs it (@pulumi/pulumi cmd/run-policy-pack): from the pack's folder,
  // TypeScript through ts-node with type checking and the folder's tsconfig.json; it prints the port it serves.
  const boot = "require('ts-node').register({ typeCheck: true, project: 'tsconfig.json' }); require('./index.ts')";
  pack = spawn(process.execPath, ["-e", boot], { cwd: path.join(ROOT, "policies") });
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    let err = "";
    pack.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    pack.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    pack.on("exit", (code) => reject(new Error(`policy pack exited ${code}: ${err}`)));
  });
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  // --policy-pack-config policies/config/prod.json, as the engine's Configure sends it.
  const configure = new analyzerPb.ConfigureAnalyzerRequest();
  for (const [name, level] of Object.entries(packConfigFor("prod"))) {
    const c = new analyzerPb.PolicyConfig();
    c.setEnforcementlevel(LEVELS.indexOf(level as (typeof LEVELS)[number]));
    c.setProperties(Struct.fromJavaScript({}));
    configure.getPolicyconfigMap().set(name, c);
  }
  await call("configure", configure);
});

afterAll(() => {
  client?.close();
  if (pack?.pid) process.kill(pack.pid);
});

interface Verdict {
  policy: string;
  enforcement: string;
  urn?: string;
  message: string;
}

async function realAnalyzer(resources: AnalyzedResource[]): Promise<Verdict[]> {
  const out: Verdict[] = [];
  // biome-ignore lint: the diagnostic's shape is the generated class's
  const collect = (diags: any[], urn?: string) => {
    for (const d of diags) {
      out.push({
        policy: d.getPolicyname(),
        enforcement: LEVELS[d.getEnforcementlevel()]!,
        ...(d.getUrn() || urn ? { urn: d.getUrn() || urn } : {}),
        message: d.getMessage(),
      });
    }
  };
  for (const r of resources.filter((x) => !x.read)) {
    const a = new analyzerPb.AnalyzeRequest();
    a.setUrn(r.urn);
    a.setType(r.type);
    a.setName(r.name);
    a.setProperties(Struct.fromJavaScript(skipInternal(r.inputs)));
    a.setOptions(options(r));
    // The engine attaches the analyzed resource's URN to a diagnostic that names none.
    collect((await call<any>("analyze", a)).getDiagnosticsList(), r.urn); // eslint-disable-line @typescript-eslint/no-explicit-any
  }
  const s = new analyzerPb.AnalyzeStackRequest();
  s.setResourcesList(
    resources.map((r) => {
      const x = new analyzerPb.AnalyzerResource();
      x.setUrn(r.urn);
      x.setType(r.type);
      x.setName(r.name);
      x.setProperties(Struct.fromJavaScript(skipInternal(r.outputs)));
      x.setOptions(options(r));
      if (r.parent) x.setParent(r.parent);
      x.setDependenciesList(r.dependencies);
      return x;
    }),
  );
  collect((await call<any>("analyzeStack", s)).getDiagnosticsList()); // eslint-disable-line @typescript-eslint/no-explicit-any
  return out;
}

const key = (v: Verdict) => `${v.policy} ${v.enforcement} ${v.urn ?? "-"}`;

describe("offline harness vs the real analyzer", () => {
  it("serves the pack's policies with their metadata", async () => {
    const info = await call<any>("getAnalyzerInfo", new Empty()); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(info.getName()).toBe("mauntic-infra");
    expect(info.getVersion()).toBe("0.1.0"); // policies/package.json, read from the working directory
    const { POLICIES } = await import("../policies/all");
    // biome-ignore lint: generated class
    expect(info.getPoliciesList().map((p: any) => p.getName())).toEqual(POLICIES.map((p) => p.name));
  });

  it("gives the same verdicts on a broken prod plan, secrets decrypted and an unknown during preview", async () => {
    const plan = planOf("prod");
    // An unknown: the primary's suspend timeout not known yet (it depends on another resource's output).
    named(plan, "mauntic-prod-neon-primary").inputs.suspend_timeout_seconds = UNKNOWN;
    // Real findings: a KV TTL below the minimum (stack policy) and the migrations on the pooler, through a secret.
    const stack = plan.find((r) => r.type === "pulumi:pulumi:Stack")!;
    (stack.outputs.kvCatalog as Record<string, Record<string, unknown>>).usage!.ttlSeconds = 30;
    const cmd = named(plan, "mauntic-prod-migrations-run");
    const secretUrl = (cmd.inputs.environment as Record<string, { value: string }>).DATABASE_URL!;
    secretUrl.value = secretUrl.value.replace(/@([^.]+)\./, "@$1-pooler.");
    plain(cmd.outputs.environment).DATABASE_URL = secretUrl.value;

    const offline = await analyzeResources(plan, { config: packConfigFor("prod") });
    const real = await realAnalyzer(plan);

    expect(real.map(key).sort()).toEqual(offline.map(key).sort());
    // The real analyzer prefixes the policy's description; the offline message is what follows it.
    for (const v of offline) {
      const match = real.find((r) => key(r) === key(v) && r.message.endsWith(v.message));
      expect(match, `${key(v)}: ${v.message}`).toBeDefined();
    }
    const byPolicy = (vs: Verdict[], p: string) => vs.filter((v) => v.policy === p).map((v) => v.enforcement);
    expect(byPolicy(offline, "prod-primary-never-suspends")).toEqual(["advisory"]);
    expect(offline.find((v) => v.policy === "prod-primary-never-suspends")!.message).toContain(
      "during preview: string value at .suspend_timeout_seconds can't be known during preview",
    );
    expect(byPolicy(offline, "kv-ttl-bounds")).toEqual(["mandatory"]);
    expect(byPolicy(offline, "migrations-direct-endpoint")).toEqual(["mandatory"]);
    // Once known, the same policy gives its verdict in both.
    named(plan, "mauntic-prod-neon-primary").inputs.suspend_timeout_seconds = 300;
    const known = (vs: Verdict[]) => vs.filter((v) => v.policy === "prod-primary-never-suspends").map(key);
    expect(known(await realAnalyzer(plan))).toEqual(
      known(await analyzeResources(plan, { config: packConfigFor("prod") })),
    );
    expect(known(await realAnalyzer(plan))).toEqual([
      `prod-primary-never-suspends mandatory ${named(plan, "mauntic-prod-neon-primary").urn}`,
    ]);
  });
});
