/**
 * `npm start`'s real deploy: when a Pulumi CLI is at hand (`npm run engine`, or one on PATH), `pulumi up` of the
 * stack with the real engine against the local stand-ins of Neon (real PostgreSQL behind its endpoints), Fly and
 * Cloudflare that the end-to-end suite uses, then `pulumi destroy`. The stand-ins are the test suites' own
 * (test/helpers/stand-ins.ts): one set of fakes, held to the vendors' answers, for both.
 */
import { engineOrReason } from "../../../engine/locate";

export interface DeployRehearsal {
  /** Why nothing was deployed (no engine, a preview stack), or undefined when it ran. */
  skipped?: string;
  ok: boolean;
  lines: string[];
  ms: number;
}

/** The engine's own summary of a run: from "Resources:" to the end (the counts and the duration). */
function summaryOf(out: string): string[] {
  const at = out.lastIndexOf("Resources:");
  return (at >= 0 ? out.slice(at) : out.slice(-2000)).trimEnd().split("\n");
}

export async function rehearseDeploy(stack: string, log: (line: string) => void): Promise<DeployRehearsal> {
  const t0 = performance.now();
  const done = (r: Omit<DeployRehearsal, "ms">): DeployRehearsal => ({ ...r, ms: performance.now() - t0 });
  const found = engineOrReason();
  // No engine is not a failure of the rehearsal: it says how to get one.
  if (!("engine" in found)) return done({ ok: true, skipped: found.reason, lines: [] });
  const { engine } = found;
  if (stack !== "dev") {
    // prod protects its stateful resources (no destroy afterwards); a preview reads dev through a StackReference.
    return done({
      ok: true,
      skipped: `deploys dev only; ${stack} is deployed by the end-to-end suite (test/engine-stacks.test.ts)`,
      lines: [],
    });
  }
  const { startStandIns, CREDENTIALS } = await import("../../../test/helpers/stand-ins");
  const { EngineWorkspace } = await import("../../../engine/workspace");
  let standIns;
  try {
    standIns = await startStandIns();
  } catch (e) {
    const msg =
      (e as NodeJS.ErrnoException).code === "EADDRINUSE"
        ? "port 5432 is in use: the stand-in of Neon's proxy listens there, as Neon's URIs name it (stop the local PostgreSQL, or run rehearse --no-deploy)"
        : (e as Error).message;
    return done({ ok: false, lines: [`stand-ins did not start: ${msg}`] });
  }
  const ws = new EngineWorkspace(engine, { env: standIns.env });
  const lines = [`Pulumi CLI ${engine.version} (${engine.bin}), file backend in ${ws.dir}`];
  try {
    await ws.initStack(stack);
    for (const [key, value] of Object.entries(CREDENTIALS)) await ws.setConfig(stack, key, value, { secret: true });
    log(`deploy: pulumi up -s ${stack} against the stand-ins`);
    const up = await ws.pulumi(stack, ["up", "--yes", "--skip-preview"]);
    lines.push(`$ pulumi up -s ${stack} (exit ${up.code})`, ...summaryOf(up.stdout));
    if (up.code !== 0) return done({ ok: false, lines: [...lines, ...up.stderr.trim().split("\n").slice(-20)] });

    const state = JSON.parse((await ws.ok(stack, ["stack", "export", "--show-secrets"])).stdout) as {
      deployment: { resources?: { type: string; outputs?: { stdout?: string } }[] };
    };
    const command = (state.deployment.resources ?? []).find((r) => r.type === "command:local:Command");
    lines.push(
      "post-deploy (the migrations step's own output):",
      ...(command?.outputs?.stdout ?? "(none)")
        .trimEnd()
        .split("\n")
        .map((l) => `  ${l}`),
    );

    log(`deploy: pulumi destroy -s ${stack}`);
    const destroy = await ws.pulumi(stack, ["destroy", "--yes", "--skip-preview"]);
    lines.push(`$ pulumi destroy -s ${stack} (exit ${destroy.code})`, ...summaryOf(destroy.stdout));
    const left = {
      "Neon projects": standIns.neon.projects.size,
      "Fly apps": standIns.fly.apps.size,
      "Hyperdrive configs": standIns.cloudflare.hyperdrive.size,
      "KV namespaces": standIns.cloudflare.kv.size,
      "R2 buckets": standIns.cloudflare.buckets.size,
    };
    lines.push(
      `left in the stand-ins after destroy: ${Object.entries(left)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}`,
    );
    return done({ ok: destroy.code === 0, lines });
  } catch (e) {
    return done({ ok: false, lines: [...lines, (e as Error).message] });
  } finally {
    await standIns.stop();
    ws.remove();
  }
}
