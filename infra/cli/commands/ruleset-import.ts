import * as fs from "node:fs";
import { type Command } from "commander";
import { ENTRYPOINTS, rulesetImportFile, type Entrypoint } from "../../cloudflare/ruleset-import";
import { loadStackConfigFromFile } from "../../config/load";
import { UsageError } from "../errors";

export function register(program: Command): void {
  program
    .command("ruleset-import")
    .description(
      "Write the `pulumi import -f` file that adopts a zone's existing cache rulesets, parented as the program declares them",
    )
    .requiredOption("--stack <name>", "the zone-owning stack (dev or prod)")
    .option("--cache-headers <rulesetId>", `id of the zone's existing ${ENTRYPOINTS["cache-headers"].phase} entrypoint`)
    .option(
      "--cache-settings <rulesetId>",
      `id of the zone's existing ${ENTRYPOINTS["cache-settings"].phase} entrypoint`,
    )
    .option("--components-exist", "the stack was deployed before: parent to the components already in its state")
    .option("--out <file>", "write here instead of stdout")
    .addHelpText(
      "after",
      `
Find the ids with the Rulesets API (GET /zones/<zone_id>/rulesets/phases/<phase>/entrypoint), then:
  npm run infra -- ruleset-import --stack dev --cache-headers <id> --cache-settings <id> --out import.json
  pulumi import -s dev -f import.json --protect=false
Exit codes: 0 written, 2 bad input (no ruleset id, a stack that owns no zone ruleset, a bad config).`,
    )
    .action(
      (opts: {
        stack: string;
        cacheHeaders?: string;
        cacheSettings?: string;
        componentsExist?: boolean;
        out?: string;
      }) => {
        const config = loadStackConfigFromFile(opts.stack);
        if (!config.cloudflare.ownsResponseHeaderRuleset) {
          throw new UsageError(
            `stack ${opts.stack} does not own zone ${config.cloudflare.zone.name}'s rulesets (allowed: the owning stack)`,
          );
        }
        const ids: Partial<Record<Entrypoint, string>> = {};
        if (opts.cacheHeaders) ids["cache-headers"] = opts.cacheHeaders;
        if (opts.cacheSettings) ids["cache-settings"] = opts.cacheSettings;
        for (const id of Object.values(ids)) {
          if (!/^[0-9a-f]{32}$/.test(id))
            throw new UsageError(`ruleset id '${id}' is not valid (allowed: 32 lowercase hex)`);
        }
        if (Object.keys(ids).length === 0) throw new UsageError("give --cache-headers and/or --cache-settings");
        const file = rulesetImportFile(opts.stack, "mauntic-infra", config.cloudflare.zone.zoneId, ids, {
          componentsExist: opts.componentsExist,
        });
        const text = `${JSON.stringify(file, null, 2)}\n`;
        if (opts.out) fs.writeFileSync(opts.out, text);
        else process.stdout.write(text);
      },
    );
}
