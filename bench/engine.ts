/**
 * The real engine's figures: `npm run bench:engine [-- --cold] [--e2e] [--start]`.
 *   warm build   `npm run engine` with the build cached (always measured)
 *   --cold       `npm run engine` into an empty engine cache and an empty Go build cache (module downloads kept):
 *                what a new CI machine pays; minutes of CPU
 *   --e2e        the end-to-end suite alone: `vitest run test/engine-stacks.test.ts`
 *   --start      `npm start` with the engine at hand (the real deploy of dev included)
 * Prints one line per figure: wall time, and CPU time of the children.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../engine/locate";

interface Figure {
  what: string;
  wallS: number;
  cpuS: number;
  ok: boolean;
}

function timed(what: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Figure {
  const before = childCpu();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0)
    process.stderr.write(
      `${what}: exit ${r.status}\n${(r.stdout ?? "").slice(-2000)}${(r.stderr ?? "").slice(-2000)}\n`,
    );
  return { what, wallS, cpuS: childCpu() - before, ok: r.status === 0 };
}

/** CPU seconds (user + system) of every child waited for so far. */
function childCpu(): number {
  // proc(5): after the command name, fields 16 and 17 (cutime, cstime) in clock ticks (100 per second on Linux)
  const stat = fs.readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) / 100;
}

const args = process.argv.slice(2);
const figures: Figure[] = [];
const npm = "npm";

if (args.includes("--cold")) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mauntic-engine-cold-"));
  figures.push(
    timed("engine build, cold (empty engine and Go build caches)", npm, ["run", "-s", "engine", "--", "--built"], {
      ...process.env,
      MAUNTIC_ENGINE_CACHE: path.join(tmp, "engine"),
      GOCACHE: path.join(tmp, "gocache"),
    }),
  );
  fs.rmSync(tmp, { recursive: true, force: true });
}
figures.push(timed("engine build, warm (cached)", npm, ["run", "-s", "engine", "--", "--built"]));
if (args.includes("--e2e")) {
  figures.push(
    timed("end-to-end suite (test/engine-stacks.test.ts)", "npx", ["vitest", "run", "test/engine-stacks.test.ts"]),
  );
}
if (args.includes("--start")) figures.push(timed("npm start with the engine (deploy of dev included)", npm, ["start"]));

for (const f of figures) {
  console.log(
    `${f.what.padEnd(58)} ${f.wallS.toFixed(1).padStart(8)} s wall ${f.cpuS.toFixed(1).padStart(8)} s CPU${f.ok ? "" : "  FAILED"}`,
  );
}
process.exitCode = figures.every((f) => f.ok) ? 0 : 1;
