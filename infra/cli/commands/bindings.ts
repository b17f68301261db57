import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import {
  fragmentJson,
  fragmentToml,
  stackBindingsSchema,
  wranglerFragment,
  assertUniqueBindings,
  type StackBindings,
} from "../../cloudflare/bindings";
import { catalogEntrySchema, renderCatalogModule, type CatalogEntry } from "../../cloudflare/cache-catalog";
import { edgeCacheSchema, renderEdgeCacheModule, type EdgeCache } from "../../cloudflare/edge-cache";
import { parseStackName } from "../../naming";
import { UNKNOWN } from "../../offline/plan";
import { UsageError } from "../errors";

const catalogSchema = z.record(z.string(), catalogEntrySchema);

interface Outputs {
  bindings: StackBindings;
  kvCatalog: Record<string, CatalogEntry>;
  edgeCache: EdgeCache;
  source: string;
}

/** The three outputs this command needs, validated; `source` says where they came from. */
export function parseOutputs(outputs: Record<string, unknown>, source: string): Outputs {
  const problems: string[] = [];
  const bindings = stackBindingsSchema.safeParse(outputs.bindings);
  if (!bindings.success) {
    problems.push(`'bindings': ${outputs.bindings === undefined ? "missing" : z.prettifyError(bindings.error)}`);
  }
  const catalog = catalogSchema.safeParse(outputs.kvCatalog);
  if (!catalog.success) {
    problems.push(`'kvCatalog': ${outputs.kvCatalog === undefined ? "missing" : z.prettifyError(catalog.error)}`);
  }
  const edgeCache = edgeCacheSchema.safeParse(outputs.edgeCache);
  if (!edgeCache.success) {
    problems.push(
      `'edgeCache': ${outputs.edgeCache === undefined ? "missing (a stack deployed before edge-cache modules: run pulumi up)" : z.prettifyError(edgeCache.error)}`,
    );
  }
  if (!bindings.success || !catalog.success || !edgeCache.success) {
    throw new UsageError(
      `${source} lacks usable stack outputs: ${problems.join("; ")} (allowed: the JSON of 'pulumi stack output --json' of a stack deployed by this program)`,
    );
  }
  const unknown = JSON.stringify(bindings.data).includes(UNKNOWN);
  if (unknown) throw new UsageError(`${source}: some binding ids are not known yet (allowed: outputs after pulumi up)`);
  return { bindings: bindings.data, kvCatalog: catalog.data, edgeCache: edgeCache.data, source };
}

function readStackOutput(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --from-stack-output ${file}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new UsageError(
    `--from-stack-output ${file} is not a JSON object (allowed: 'pulumi stack output --json' output)`,
  );
}

const LOCAL_URL = /^postgres(ql)?:\/\/\S+$/;

export function register(program: Command): void {
  program
    .command("bindings")
    .description(
      "Write each worker's wrangler config fragment (Hyperdrive, KV, R2 bindings), its edge-cache module (the cache tiers of the hosts it routes) and the typed cache catalog",
    )
    .requiredOption("-s, --stack <name>", "stack: dev, prod or pr-<N>")
    .option(
      "-o, --out <dir>",
      "write <worker>.wrangler.json, <worker>.wrangler.toml, <worker>.edge-cache.ts and cache-catalog.ts here",
    )
    .option(
      "--from-stack-output <file>",
      "take ids from 'pulumi stack output --json' saved in <file> ('-' for stdin) instead of the offline plan",
    )
    .option("--local-connection-string <url>", "add localConnectionString (wrangler dev) to every Hyperdrive binding")
    .option("-c, --config-file <path>", "offline plan: evaluate this stack file instead of the committed one")
    .addHelpText(
      "after",
      `
Ids: without --from-stack-output they come from the offline plan (stable fake ids, for trying the wiring). After
'pulumi up', take the real ones from the stack's outputs (ids and names only, no secrets):
  pulumi stack output --json --stack dev > dev-outputs.json
  npm run infra -- bindings --stack dev --from-stack-output dev-outputs.json --out ./wrangler

Examples:
  npm run infra -- bindings --stack dev --out ./wrangler
  npm run infra -- bindings --stack dev --local-connection-string postgres://postgres:postgres@localhost:5432/mauntic

Exit codes: 0 written, 1 the program failed, 2 bad arguments or config.`,
    )
    .action(
      async (opts: {
        stack: string;
        out?: string;
        fromStackOutput?: string;
        localConnectionString?: string;
        configFile?: string;
      }) => {
        parseStackName(opts.stack);
        if (opts.localConnectionString !== undefined && !LOCAL_URL.test(opts.localConnectionString)) {
          throw new UsageError(
            `--local-connection-string ${JSON.stringify(opts.localConnectionString)} is not a Postgres URL (allowed: postgres://user:password@host:port/database)`,
          );
        }
        if (opts.fromStackOutput && opts.configFile) {
          throw new UsageError("--from-stack-output and --config-file exclude each other (allowed: one of them)");
        }
        const offline = async () => {
          const { runOffline } = await import("../../offline/engine"); // loaded on use, as in `plan`
          return (await runOffline(opts.stack, { configFile: opts.configFile })).outputs;
        };
        const outputs = opts.fromStackOutput
          ? parseOutputs(readStackOutput(opts.fromStackOutput), opts.fromStackOutput)
          : parseOutputs(await offline(), `the offline plan of ${opts.stack}`);

        const fragments = Object.fromEntries(
          Object.entries(outputs.bindings).map(([worker, b]) => {
            assertUniqueBindings(worker, b);
            return [worker, wranglerFragment(b, { localConnectionString: opts.localConnectionString })];
          }),
        );
        if (!opts.out) {
          process.stdout.write(`${JSON.stringify(fragments, null, 2)}\n`);
          return;
        }
        fs.mkdirSync(opts.out, { recursive: true });
        const written: string[] = [];
        const write = (name: string, text: string) => {
          const file = path.join(opts.out!, name);
          fs.writeFileSync(file, text);
          written.push(file);
        };
        for (const [worker, fragment] of Object.entries(fragments)) {
          write(`${worker}.wrangler.json`, fragmentJson(fragment));
          write(`${worker}.wrangler.toml`, fragmentToml(worker, opts.stack, fragment));
        }
        for (const [worker, tiers] of Object.entries(outputs.edgeCache)) {
          write(`${worker}.edge-cache.ts`, renderEdgeCacheModule(worker, tiers, `stack ${opts.stack}`));
        }
        write("cache-catalog.ts", renderCatalogModule(outputs.kvCatalog, `stack ${opts.stack}`));
        process.stdout.write(`${written.map((f) => `wrote ${f}`).join("\n")}\n`);
      },
    );
}
