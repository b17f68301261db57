/**
 * What the stand-in provider plugins cost the engine: each `pulumi` operation starts every plugin it needs once,
 * so their start-up is paid per preview/up/refresh/destroy. Starts each plugin as the engine does (tsx, program
 * folder as cwd, port on the first stdout line) `--runs` times and prints the median and worst time to the port
 * line and to the first answered RPC (GetPluginInfo), plus the command plugin's time to run `true` (Create), for
 * two launchers a wrapper script can use: `tsx` (its CLI starts a second node process) and
 * `node --require tsx/cjs` (one process).
 *   npx tsx bench/plugins.ts [--runs 3]
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";

/* eslint-disable @typescript-eslint/no-require-imports */
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

interface Sample {
  port: number;
  info: number;
  create?: number;
}

const LAUNCHERS: Record<string, (main: string) => [string, string[]]> = {
  tsx: (main) => [TSX, [main]],
  "node --require tsx/cjs": (main) => [process.execPath, ["--require", "tsx/cjs", main]],
};

async function once(name: string, launcher: string): Promise<Sample> {
  const started = performance.now();
  const [cmd, args] = LAUNCHERS[launcher]!(path.join(ROOT, "engine", "plugins", name, "main.ts"));
  const child = spawn(cmd, [...args, "127.0.0.1:1"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(Number(out.split("\n")[0]));
      });
      child.on("exit", (code) => reject(new Error(`${name} exited ${code}`)));
    });
    const portAt = performance.now();
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = (method: string, req: unknown) =>
      new Promise<any>((res, rej) => client[method](req, (e: Error | null, r: any) => (e ? rej(e) : res(r))));
    await call("getPluginInfo", new emptyproto.Empty());
    const infoAt = performance.now();
    let create: number | undefined;
    if (name === "command") {
      const req = new provproto.CreateRequest();
      req.setUrn("urn:pulumi:bench::bench::command:local:Command::c");
      req.setProperties(structproto.Struct.fromJavaScript({ create: "true" }));
      const t = performance.now();
      await call("create", req);
      create = performance.now() - t;
    }
    client.close();
    return { port: portAt - started, info: infoAt - started, ...(create !== undefined ? { create } : {}) };
  } finally {
    child.kill("SIGTERM");
  }
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${Math.round(s[Math.floor(s.length / 2)]!)} ms, worst ${Math.round(s.at(-1)!)} ms`;
};

async function main() {
  const i = process.argv.indexOf("--runs");
  const runs = i > 0 ? Number(process.argv[i + 1]) : 3;
  for (const launcher of Object.keys(LAUNCHERS)) {
    for (const name of ["command", "cloudflare"]) {
      const samples: Sample[] = [];
      for (let r = 0; r < runs; r++) samples.push(await once(name, launcher));
      const label = `${name} (${launcher})`;
      console.log(
        `${label}: port line ${stat(samples.map((s) => s.port))}; first RPC ${stat(samples.map((s) => s.info))}`,
      );
      const creates = samples.flatMap((s) => (s.create !== undefined ? [s.create] : []));
      if (creates.length) console.log(`${label}: Create running \`true\` ${stat(creates)}`);
    }
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
