/**
 * Serve a stand-in provider plugin to the real engine with @pulumi/pulumi's own provider server
 * (`@pulumi/pulumi/provider` `main(provider, args)`: binds 127.0.0.1:0, prints the port as its first stdout line,
 * implements pulumirpc.ResourceProvider). That server was written for dynamic providers and leaves out four things
 * a packaged provider does, so this module fills them in on the service it registers and nothing else:
 * - Configure: server.js ignores the request's variables/args; here they reach `provider.configure`.
 * - Preview: server.js answers Configure without `supportsPreview`, so the engine never calls Create/Update in a
 *   preview and shows inputs as outputs. pulumi-go-provider (pulumi-command) and the Terraform bridge both declare
 *   it, so the engine calls Create/Update with `preview: true` and shows what the provider marks unknown; here the
 *   flag reaches `provider.create/update` (pulumirpc CreateRequest.preview / UpdateRequest.preview).
 * - Read: server.js drops the request's `inputs`; a refresh needs them to hand the inputs back.
 * - Read of a resource that is gone: the engine takes an empty id as "deleted outside" (provider.proto ReadResponse).
 * - Logging to the engine: a provider may print status lines on a resource's row through the engine's Log RPC
 *   (engine.proto LogRequest, at the address the engine passes as the plugin's argument), as pulumi-go-provider's
 *   logger does; `attachLog` hands the provider that function.
 */
import * as grpc from "@grpc/grpc-js";
import type * as dynamic from "@pulumi/pulumi/provider";

/* eslint-disable @typescript-eslint/no-require-imports */
const { main } = require("@pulumi/pulumi/provider") as typeof import("@pulumi/pulumi/provider");
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const engproto = require("@pulumi/pulumi/proto/engine_pb");
const { parseArgs } = require("@pulumi/pulumi/provider/internals");

/** Provider config as `pulumi config set <pkg>:<key>` gives it, by short key (`apiToken`, `baseUrl`). */
export type PluginConfig = Record<string, string>;

/** A status line on a resource's row (an ephemeral INFO message, like pulumi-go-provider's InfoStatus). */
export type EngineLog = (urn: string, message: string) => void;

export interface PluginProvider {
  version: string;
  attachLog?(log: EngineLog): void;
  configure?(config: PluginConfig): void | Promise<void>;
  check(urn: string, olds: any, news: any): Promise<dynamic.CheckResult>;
  diff(id: string, urn: string, olds: any, news: any): Promise<dynamic.DiffResult>;
  create(urn: string, inputs: any, preview: boolean): Promise<dynamic.CreateResult>;
  read(id: string, urn: string, props: any, inputs?: any): Promise<dynamic.ReadResult>;
  update(id: string, urn: string, olds: any, news: any, preview: boolean): Promise<dynamic.UpdateResult>;
  delete(id: string, urn: string, props: any): Promise<void>;
  invoke?(token: string, inputs: any): Promise<dynamic.InvokeResult>;
}

/** `<pkg>:<key>` and `<pkg>:config:<key>` (both spellings the engine uses, sdk/go/common/resource/config/key.go). */
export function configFromVariables(vars: Iterable<[string, string]>, args?: Record<string, unknown>): PluginConfig {
  const out: PluginConfig = {};
  for (const [k, v] of vars) {
    const key = k.split(":").at(-1)!;
    out[key] = v;
  }
  for (const [k, v] of Object.entries(args ?? {})) {
    const plain = typeof v === "object" && v !== null && "value" in v ? (v as { value: unknown }).value : v;
    if (typeof plain === "string") out[k] = plain;
  }
  return out;
}

type Callback = (err: unknown, value?: unknown) => void;
type Call = { request: any };

function failure(e: unknown) {
  const message = e instanceof Error ? e.message : String(e);
  return { code: grpc.status.UNKNOWN, details: message, message };
}

/** Replace the handlers server.js gets wrong for a packaged provider; everything else stays server.js's. */
function wrap(impl: Record<string, unknown>, provider: PluginProvider): void {
  impl.configure = (call: Call, cb: Callback) => {
    const req = call.request;
    const args = req.getArgs()?.toJavaScript();
    Promise.resolve(provider.configure?.(configFromVariables(req.getVariablesMap().entries(), args))).then(
      () => {
        const resp = new provproto.ConfigureResponse();
        resp.setAcceptsecrets(true);
        resp.setAcceptresources(true);
        resp.setAcceptoutputs(true);
        resp.setSupportspreview(true);
        cb(null, resp);
      },
      (e) => cb(failure(e)),
    );
  };
  impl.create = (call: Call, cb: Callback) => {
    const req = call.request;
    provider.create(req.getUrn(), req.getProperties().toJavaScript(), req.getPreview()).then(
      (r) => {
        const resp = new provproto.CreateResponse();
        resp.setId(r.id);
        resp.setProperties(structproto.Struct.fromJavaScript(r.outs ?? {}));
        cb(null, resp);
      },
      (e) => cb(failure(e)),
    );
  };
  impl.update = (call: Call, cb: Callback) => {
    const req = call.request;
    provider
      .update(req.getId(), req.getUrn(), req.getOlds().toJavaScript(), req.getNews().toJavaScript(), req.getPreview())
      .then(
        (r) => {
          const resp = new provproto.UpdateResponse();
          resp.setProperties(structproto.Struct.fromJavaScript(r.outs ?? {}));
          cb(null, resp);
        },
        (e) => cb(failure(e)),
      );
  };
  impl.read = (call: Call, cb: Callback) => {
    const req = call.request;
    provider
      .read(req.getId(), req.getUrn(), req.getProperties()?.toJavaScript() ?? {}, req.getInputs()?.toJavaScript())
      .then(
        (r) => {
          const resp = new provproto.ReadResponse();
          resp.setId(r.id ?? "");
          if (r.id) {
            resp.setProperties(structproto.Struct.fromJavaScript(r.props ?? {}));
            if (r.inputs) resp.setInputs(structproto.Struct.fromJavaScript(r.inputs));
          }
          cb(null, resp);
        },
        (e) => cb(failure(e)),
      );
  };
}

/** Log through the engine at `address` (nothing without one); a failed log call never fails a step. */
export function engineLog(address: string | undefined): EngineLog {
  if (!address) return () => undefined;
  let client: any;
  return (urn, message) => {
    client ??= new engrpc.EngineClient(address, grpc.credentials.createInsecure());
    const req = new engproto.LogRequest();
    req.setSeverity(engproto.LogSeverity.INFO);
    req.setMessage(message);
    req.setUrn(urn);
    req.setEphemeral(true);
    client.log(req, () => undefined);
  };
}

/** Start the plugin: what `pulumi-resource-<name> <engine address>` runs. */
export async function serve(provider: PluginProvider, args: string[]): Promise<void> {
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (this: grpc.Server, service, implementation) {
    if (service === provrpc.ResourceProviderService) wrap(implementation as Record<string, unknown>, provider);
    return addService.call(this, service, implementation);
  };
  provider.attachLog?.(engineLog(parseArgs(args)?.engineAddress));
  await main(provider as unknown as dynamic.Provider, args);
}
