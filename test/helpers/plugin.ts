/**
 * Starts a stand-in provider plugin the way the engine does (`pulumi-resource-<name> <engine address>` with the
 * program folder as cwd; the port is the first stdout line) and calls it over gRPC with the stubs @pulumi/pulumi
 * ships (proto/provider_grpc_pb.js), so a suite sees what the engine would see on the wire.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ROOT } from "./cli";

/* eslint-disable @typescript-eslint/no-require-imports */
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");

const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

/** A stand-in of the engine's Log service: what a plugin prints on resources' rows. */
export async function startEngineLog(): Promise<{
  address: string;
  lines: { urn: string; message: string; severity: number; ephemeral: boolean }[];
  stop(): Promise<void>;
}> {
  const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
  const lines: { urn: string; message: string; severity: number; ephemeral: boolean }[] = [];
  const server = new grpc.Server();
  server.addService(engrpc.EngineService, {
    log: (call: { request: any }, cb: (e: null, r: unknown) => void) => {
      const r = call.request;
      lines.push({ urn: r.getUrn(), message: r.getMessage(), severity: r.getSeverity(), ephemeral: r.getEphemeral() });
      cb(null, new emptyproto.Empty());
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    lines,
    stop: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}

export interface PluginHandle {
  port: number;
  stderr: () => string;
  call<T = any>(method: string, req: unknown): Promise<T>;
  stop(): Promise<void>;
  pluginVersion(): Promise<string>;
  configure(vars: Record<string, string>): Promise<{ supportsPreview: boolean; acceptSecrets: boolean }>;
  check(
    urn: string,
    olds: object,
    news: object,
  ): Promise<{ inputs: any; failures: { property: string; reason: string }[] }>;
  diff(
    id: string,
    urn: string,
    olds: object,
    news: object,
  ): Promise<{ changes: "none" | "some" | "unknown"; replaces: string[] }>;
  create(urn: string, props: object, preview?: boolean): Promise<{ id: string; props: any }>;
  read(id: string, urn: string, props: object, inputs?: object): Promise<{ id: string; props: any }>;
  update(id: string, urn: string, olds: object, news: object, preview?: boolean): Promise<any>;
  delete(id: string, urn: string, props: object): Promise<void>;
  invoke(tok: string, args: object): Promise<any>;
}

export async function startPlugin(
  name: string,
  /** engineAddress: where the plugin sends its log lines (default: an address nothing listens on). */
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; engineAddress?: string } = {},
): Promise<PluginHandle> {
  const child: ChildProcess = spawn(
    TSX,
    [path.join(ROOT, "engine", "plugins", name, "main.ts"), opts.engineAddress ?? "127.0.0.1:1"],
    {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0]!;
      if (out.includes("\n")) {
        child.stdout!.off("data", onData);
        const n = Number(line.trim());
        if (Number.isInteger(n) && n > 0) resolve(n);
        else
          reject(
            new Error(`plugin ${name}: first stdout line is not a port: ${JSON.stringify(line)}; stderr: ${stderr}`),
          );
      }
    };
    child.stdout!.on("data", onData);
    child.on("exit", (code) =>
      reject(new Error(`plugin ${name} exited (${code}) before printing its port: ${stderr}`)),
    );
  });
  const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, req: unknown) =>
    new Promise<T>((resolve, reject) =>
      client[method](req, (err: Error | null, resp: T) => (err ? reject(err) : resolve(resp))),
    );
  const struct = (o: object) => structproto.Struct.fromJavaScript(o);
  const changes = ["unknown", "none", "some"] as const;

  return {
    port,
    stderr: () => stderr,
    call,
    async stop() {
      client.close();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
    async pluginVersion() {
      return (await call<any>("getPluginInfo", new emptyproto.Empty())).getVersion();
    },
    async configure(vars) {
      const req = new provproto.ConfigureRequest();
      for (const [k, v] of Object.entries(vars)) req.getVariablesMap().set(k, v);
      req.setAcceptsecrets(true);
      req.setAcceptresources(true);
      const resp = await call<any>("configure", req);
      return { supportsPreview: resp.getSupportspreview(), acceptSecrets: resp.getAcceptsecrets() };
    },
    async check(urn, olds, news) {
      const req = new provproto.CheckRequest();
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const resp = await call<any>("check", req);
      return {
        inputs: resp.getInputs()?.toJavaScript(),
        failures: resp.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
      };
    },
    async diff(id, urn, olds, news) {
      const req = new provproto.DiffRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const resp = await call<any>("diff", req);
      return { changes: changes[resp.getChanges()]!, replaces: resp.getReplacesList() };
    },
    async create(urn, props, preview = false) {
      const req = new provproto.CreateRequest();
      req.setUrn(urn);
      req.setProperties(struct(props));
      req.setPreview(preview);
      const resp = await call<any>("create", req);
      return { id: resp.getId(), props: resp.getProperties()?.toJavaScript() };
    },
    async read(id, urn, props, inputs) {
      const req = new provproto.ReadRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setProperties(struct(props));
      if (inputs) req.setInputs(struct(inputs));
      const resp = await call<any>("read", req);
      return { id: resp.getId(), props: resp.getProperties()?.toJavaScript() };
    },
    async update(id, urn, olds, news, preview = false) {
      const req = new provproto.UpdateRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      req.setPreview(preview);
      return (await call<any>("update", req)).getProperties()?.toJavaScript();
    },
    async delete(id, urn, props) {
      const req = new provproto.DeleteRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setProperties(struct(props));
      await call("delete", req);
    },
    async invoke(tok, args) {
      const req = new provproto.InvokeRequest();
      req.setTok(tok);
      req.setArgs(struct(args));
      return (await call<any>("invoke", req)).getReturn()?.toJavaScript();
    },
  };
}
