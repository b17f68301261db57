/**
 * Adopting a zone's existing entrypoint rulesets (made in the dashboard) before the first `pulumi up`: a zone has
 * one entrypoint per phase, so creating ours would fail. `pulumi import -f <file>` takes a JSON file of resources;
 * since Pulumi 3.94 such a file can create the empty component a resource is parented to (`component: true`) and
 * refer to it by `name` in `parent` (pulumi/pulumi#14461, #14467, #14524; `pulumi import --help`). Without the parent,
 * the imported ruleset would sit at the stack's root and the next `up` would try to create a second entrypoint.
 * Ruleset ids read `zones/<zone_id>/<ruleset_id>` (@pulumi/cloudflare ruleset.d.ts, "Import").
 */
import { cloudName, resourceName } from "../naming";

export const RULESET_TYPE = "cloudflare:index/ruleset:Ruleset";

/** The two entrypoints a zone-owning stack declares: component type and names, as index.ts declares them. */
export const ENTRYPOINTS = {
  "cache-headers": { component: "mauntic:cloudflare:CacheHeaders", phase: "http_response_headers_transform" },
  "cache-settings": { component: "mauntic:cloudflare:CacheSettings", phase: "http_request_cache_settings" },
} as const;
export type Entrypoint = keyof typeof ENTRYPOINTS;

export interface ImportFile {
  nameTable?: Record<string, string>;
  resources: {
    type: string;
    name: string;
    logicalName: string;
    id?: string;
    component?: boolean;
    parent?: string;
  }[];
}

/**
 * The import file for the given rulesets (`rulesetIds[entrypoint]` = the dashboard's ruleset id). With
 * `componentsExist` (the stack was deployed before, so its components are in state) the parents come from a name
 * table of their URNs instead of being created.
 */
export function rulesetImportFile(
  stack: string,
  project: string,
  zoneId: string,
  rulesetIds: Partial<Record<Entrypoint, string>>,
  opts: { componentsExist?: boolean } = {},
): ImportFile {
  const file: ImportFile = { resources: [] };
  for (const [entry, rulesetId] of Object.entries(rulesetIds) as [Entrypoint, string][]) {
    const { component } = ENTRYPOINTS[entry];
    const parent = `${entry}-component`;
    const componentName = resourceName(stack, entry);
    if (opts.componentsExist) {
      // A URN's type part carries its parents' types, the root stack's excepted (pulumi pkg/resource/deploy/
      // deployment.go generateURN): the components are children of the stack resource, so their URN is theirs alone.
      file.nameTable = {
        ...file.nameTable,
        [parent]: `urn:pulumi:${stack}::${project}::${component}::${componentName}`,
      };
    } else {
      file.resources.push({ type: component, name: parent, logicalName: componentName, component: true });
    }
    file.resources.push({
      type: RULESET_TYPE,
      name: `${entry}-ruleset`,
      logicalName: cloudName(stack, "ruleset", entry),
      id: `zones/${zoneId}/${rulesetId}`,
      parent,
    });
  }
  return file;
}
