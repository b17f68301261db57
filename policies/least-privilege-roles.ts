import type { PolicyResource } from "@pulumi/policy";
import {
  at,
  declaredRoles,
  isFly,
  known,
  knownStr,
  ofType,
  stackPolicy,
  str,
  T,
  UNKNOWN,
  uriHost,
  type PolicyMeta,
} from "./lib";

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
    check(
      knownStr(() => at(c.props, "origin", "user")),
      `Hyperdrive config ${String(c.props.name)}`,
      c.urn,
    );
  }
  // Fly workers: DATABASE_URL in the app's secrets (branch fly) or, if ever, in a machine's plain env.
  for (const r of resources.filter((x) => isFly(x.type, "Secrets"))) {
    const what = `Fly app ${String(r.props.app_name)}`;
    const values = known(() => r.props.values);
    const url = values === UNKNOWN ? UNKNOWN : known(() => at(values, "DATABASE_URL"));
    if (url !== UNKNOWN) {
      if (typeof url === "string" && uriHost(url)) check(decodeURIComponent(new URL(url).username), what, r.urn);
      continue;
    }
    // In a preview the secrets are one unknown when made from a role's password: the role is where they came from.
    const role = roleBehind(r);
    if (role)
      check(
        knownStr(() => role.props.name),
        what,
        r.urn,
      );
  }
  for (const m of resources.filter((x) => isFly(x.type, "Machine"))) {
    const url = knownStr(() => at(m.props, "config", "env", "DATABASE_URL"));
    if (url && uriHost(url)) check(decodeURIComponent(new URL(url).username), `Fly machine ${m.name}`, m.urn);
  }
});

/** The Postgres role a resource's `values` came from (AnalyzeStack's propertyDependencies, else its dependencies). */
function roleBehind(r: PolicyResource): PolicyResource | undefined {
  const from = r.propertyDependencies?.values?.length ? r.propertyDependencies.values : r.dependencies;
  return from.find((d) => d.type === T.neonRole || d.type === T.loginRole);
}
