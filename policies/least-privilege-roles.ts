import { at, declaredRoles, isFly, ofType, stackPolicy, str, T, uriHost, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "least-privilege-roles",
  description:
    "No Hyperdrive config or Fly worker logs in as the migrator (the database's owner): each uses a worker role the stack declares.",
  why: "The owner can drop and alter every table: a worker bug or a leaked worker credential then reaches all of the platform's data, not one worker's schemas.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "advisory" },
  remediation:
    "Point the config at the worker's own role (`mauntic_<stack>_<worker>`, granted by the post-deploy step); for previews, a shared role with the union of the workers' grants.",
};

export const leastPrivilegeRoles = stackPolicy(meta, ({ resources }, report) => {
  const owners = new Set(
    ofType(resources, T.neonDatabase)
      .map((d) => str(d.props.owner_name))
      .filter(Boolean),
  );
  const roles = new Set(declaredRoles(resources));
  const check = (user: string | undefined, what: string, urn: string) => {
    if (!user) return;
    if (owners.has(user)) report(`${what} logs in as ${user}, the database owner (migrator)`, urn);
    else if (roles.size && !roles.has(user))
      report(`${what} logs in as ${user}, a role this stack does not declare`, urn);
  };
  for (const c of ofType(resources, T.hyperdrive)) {
    check(str(at(c.props, "origin", "user")), `Hyperdrive config ${String(c.props.name)}`, c.urn);
  }
  // Fly workers: DATABASE_URL in the app's secrets (branch fly) or, if ever, in a machine's plain env.
  const flyUrls: [string | undefined, string, string][] = [
    ...resources
      .filter((r) => isFly(r.type, "Secrets"))
      .map(
        (r) =>
          [str(at(r.props, "values", "DATABASE_URL")), `Fly app ${String(r.props.app_name)}`, r.urn] as [
            string | undefined,
            string,
            string,
          ],
      ),
    ...resources
      .filter((r) => isFly(r.type, "Machine"))
      .map(
        (m) =>
          [str(at(m.props, "config", "env", "DATABASE_URL")), `Fly machine ${m.name}`, m.urn] as [
            string | undefined,
            string,
            string,
          ],
      ),
  ];
  for (const [url, what, urn] of flyUrls) {
    if (url && uriHost(url)) check(decodeURIComponent(new URL(url).username), what, urn);
  }
});
