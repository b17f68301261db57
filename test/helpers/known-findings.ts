/**
 * Policy findings today's committed stacks have, as `<level> <policy> <resource name>`, each with why. The plan and
 * check tests fail when one appears or goes away, so this list is edited on purpose.
 * - cache-tier-edge-ttl on dev and prod: the cache rules arrive with branch cloudflare (7e8e68c): remove at merge.
 * - prod-protect-stateful on prod's KV namespace and R2 buckets: protected by branch cloudflare (5c2715b): remove at
 *   merge.
 * - least-privilege-roles on pr-42: the preview's shared Hyperdrive config logs in as the migrator (advisory in
 *   previews); remove when previews get a shared worker role.
 */
export const KNOWN: Record<string, string[]> = {
  dev: [
    "advisory cache-tier-edge-ttl mauntic-dev-cache-headers",
    "advisory cache-tier-edge-ttl mauntic-dev-cache-headers",
  ],
  prod: [
    "advisory cache-tier-edge-ttl mauntic-prod-cache-headers",
    "advisory cache-tier-edge-ttl mauntic-prod-cache-headers",
    "mandatory prod-protect-stateful mauntic-prod-assets",
    "mandatory prod-protect-stateful mauntic-prod-cache",
    "mandatory prod-protect-stateful mauntic-prod-imports",
  ],
  "pr-42": ["advisory least-privilege-roles mauntic-pr-42-shared-db"],
};

/** The mandatory ones: what keeps `check` from passing on the committed stacks until they are gone. */
export const KNOWN_MANDATORY = Object.entries(KNOWN).flatMap(([stack, fs]) =>
  fs
    .filter((f) => f.startsWith("mandatory "))
    .map((f) => ({ stack, policy: f.split(" ")[1]!, resource: f.split(" ")[2]! })),
);
