/**
 * Policy findings today's committed stacks have, as `<level> <policy> <resource name>`, each with why. The plan and
 * check tests fail when one appears or goes away, so this list is edited on purpose.
 * - least-privilege-roles on pr-42: the preview's shared Hyperdrive config logs in as the migrator (advisory in
 *   previews); remove when previews get a shared worker role.
 */
export const KNOWN: Record<string, string[]> = {
  dev: [],
  prod: [],
  "pr-42": ["advisory least-privilege-roles mauntic-pr-42-shared-db"],
};

/** The mandatory ones: what keeps `check` from passing on the committed stacks until they are gone. */
export const KNOWN_MANDATORY = Object.entries(KNOWN).flatMap(([stack, fs]) =>
  fs
    .filter((f) => f.startsWith("mandatory "))
    .map((f) => ({ stack, policy: f.split(" ")[1]!, resource: f.split(" ")[2]! })),
);
