/**
 * Per-worker grants: after the migrations, each worker's role holds exactly the privileges its catalogue entry
 * declares on each platform schema: `reads` -> USAGE + SELECT, `writes` -> USAGE + SELECT, INSERT, UPDATE,
 * DELETE (+ sequence USAGE, SELECT so inserts can use serial columns), nothing on the others. Existing tables and
 * future ones (default privileges of the role running the runner, the owner that creates tables) alike.
 *
 * The current state is read in one query and only the differences are applied, so a run with nothing to change
 * costs one query and rewrites no catalog rows.
 */
import { escapeIdentifier, type Client } from "pg";
import { RunnerError } from "./errors";
import type { GrantsSpec } from "./grants-spec";

type Level = "none" | "read" | "write";
type Target = "schema" | "tables" | "sequences" | "future tables" | "future sequences";

const DESIRED: Record<Target, Record<Level, string[]>> = {
  schema: { none: [], read: ["USAGE"], write: ["USAGE"] },
  tables: { none: [], read: ["SELECT"], write: ["DELETE", "INSERT", "SELECT", "UPDATE"] },
  sequences: { none: [], read: [], write: ["SELECT", "USAGE"] },
  "future tables": { none: [], read: ["SELECT"], write: ["DELETE", "INSERT", "SELECT", "UPDATE"] },
  "future sequences": { none: [], read: [], write: ["SELECT", "USAGE"] },
};

export interface GrantChange {
  role: string;
  schema: string;
  target: Target;
  /** Privileges found (for tables/sequences: the objects that differ, with theirs). */
  found: string;
  /** Privileges wanted. */
  wanted: string[];
  sql: string[];
}

export interface GrantPlan {
  changes: GrantChange[];
  /** Platform schemas that do not exist yet: their grants wait for the next run. */
  missingSchemas: string[];
}

interface Row {
  kind: string;
  role: string | null;
  schema: string | null;
  object: string | null;
  privilege: string | null;
}

const RELKINDS = "('r','p','v','m','f','S')";

/** Everything the diff needs, in one query. */
const STATE_SQL = `
SELECT 'role' AS kind, rolname::text AS role, NULL::text AS schema, NULL::text AS object, NULL::text AS privilege
  FROM pg_roles WHERE rolname = ANY($1::text[])
UNION ALL
SELECT 'namespace', NULL, nspname::text, NULL, NULL FROM pg_namespace WHERE nspname = ANY($2::text[])
UNION ALL
SELECT 'schema', g.rolname::text, n.nspname::text, NULL, a.privilege_type
  FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a JOIN pg_roles g ON g.oid = a.grantee
  WHERE n.nspname = ANY($2::text[]) AND g.rolname = ANY($1::text[])
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequences' ELSE 'tables' END, NULL, n.nspname::text, c.relname::text, NULL
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ${RELKINDS}
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequences' ELSE 'tables' END, g.rolname::text, n.nspname::text, c.relname::text,
       a.privilege_type
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN pg_roles g ON g.oid = a.grantee
  WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ${RELKINDS} AND g.rolname = ANY($1::text[])
UNION ALL
SELECT CASE d.defaclobjtype WHEN 'S' THEN 'future sequences' ELSE 'future tables' END, g.rolname::text,
       n.nspname::text, NULL, a.privilege_type
  FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
  CROSS JOIN LATERAL aclexplode(d.defaclacl) a JOIN pg_roles g ON g.oid = a.grantee
  WHERE d.defaclrole = current_user::regrole AND d.defaclobjtype IN ('r', 'S')
    AND n.nspname = ANY($2::text[]) AND g.rolname = ANY($1::text[])`;

export async function readGrantRows(client: Client, spec: GrantsSpec): Promise<Row[]> {
  return (await client.query<Row>(STATE_SQL, [Object.keys(spec.roles), spec.schemas])).rows;
}

const key = (...parts: (string | null)[]) => parts.join("\u0000");

function levelOf(spec: GrantsSpec, role: string, schema: string): Level {
  const g = spec.roles[role]!;
  if (g.writes.includes(schema)) return "write";
  if (g.reads.includes(schema)) return "read";
  return "none";
}

function sqlFor(target: Target, role: string, schema: string, wanted: string[]): string[] {
  const r = escapeIdentifier(role);
  const s = escapeIdentifier(schema);
  const privs = wanted.join(", ");
  switch (target) {
    case "schema":
      return [
        `REVOKE ALL ON SCHEMA ${s} FROM ${r}`,
        ...(wanted.length ? [`GRANT ${privs} ON SCHEMA ${s} TO ${r}`] : []),
      ];
    case "tables":
    case "sequences": {
      const what = target.toUpperCase();
      return [
        `REVOKE ALL ON ALL ${what} IN SCHEMA ${s} FROM ${r}`,
        ...(wanted.length ? [`GRANT ${privs} ON ALL ${what} IN SCHEMA ${s} TO ${r}`] : []),
      ];
    }
    case "future tables":
    case "future sequences": {
      const what = target === "future tables" ? "TABLES" : "SEQUENCES";
      return [
        `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} REVOKE ALL ON ${what} FROM ${r}`,
        ...(wanted.length ? [`ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT ${privs} ON ${what} TO ${r}`] : []),
      ];
    }
  }
}

/**
 * The changes that make the database match the spec. Throws when a role is missing: the Neon component creates
 * one per worker, so a missing role means a deploy out of order, and skipping it would hide a worker's outage.
 */
export function planGrants(spec: GrantsSpec, rows: Row[]): GrantPlan {
  const roles = new Set(rows.filter((r) => r.kind === "role").map((r) => r.role!));
  const missingRoles = Object.keys(spec.roles).filter((r) => !roles.has(r));
  if (missingRoles.length) {
    throw new RunnerError(
      `role${missingRoles.length > 1 ? "s" : ""} ${missingRoles.join(", ")} missing: grants need every worker's role (allowed: roles created by the Neon component, one per worker with database access)`,
    );
  }
  const schemas = new Set(rows.filter((r) => r.kind === "namespace").map((r) => r.schema!));
  const objects = new Map<string, string[]>(); // kind+schema -> object names
  const held = new Map<string, Set<string>>(); // kind+role+schema+object -> privileges
  for (const r of rows) {
    if (r.kind === "role" || r.kind === "namespace") continue;
    if (r.role === null) {
      const k = key(r.kind, r.schema);
      objects.set(k, [...(objects.get(k) ?? []), r.object!]);
      continue;
    }
    const k = key(r.kind, r.role, r.schema, r.object);
    const set = held.get(k) ?? new Set<string>();
    set.add(r.privilege!);
    held.set(k, set);
  }
  const same = (a: Set<string> | undefined, wanted: string[]) =>
    (a?.size ?? 0) === wanted.length && wanted.every((p) => a!.has(p));
  const show = (a: Set<string> | undefined) => (a && a.size ? [...a].sort().join(", ") : "none");

  const changes: GrantChange[] = [];
  for (const role of Object.keys(spec.roles).sort()) {
    for (const schema of spec.schemas) {
      if (!schemas.has(schema)) continue;
      const level = levelOf(spec, role, schema);
      for (const target of Object.keys(DESIRED) as Target[]) {
        const wanted = DESIRED[target][level];
        let found: string | undefined;
        if (target === "tables" || target === "sequences") {
          const differing = (objects.get(key(target, schema)) ?? [])
            .map((o) => [o, held.get(key(target, role, schema, o))] as const)
            .filter(([, privs]) => !same(privs, wanted));
          if (differing.length) {
            found = differing
              .slice(0, 3)
              .map(([o, p]) => `${o}: ${show(p)}`)
              .join("; ");
            if (differing.length > 3) found += `; +${differing.length - 3} more`;
          }
        } else {
          const privs = held.get(key(target, role, schema, null));
          if (!same(privs, wanted)) found = show(privs);
        }
        if (found !== undefined) {
          changes.push({ role, schema, target, found, wanted, sql: sqlFor(target, role, schema, wanted) });
        }
      }
    }
  }
  return { changes, missingSchemas: spec.schemas.filter((s) => !schemas.has(s)) };
}

/**
 * Applies the changes in one round trip: a multi-statement simple query with no BEGIN runs as one implicit
 * transaction, so either every change lands or none does.
 */
export async function applyGrants(client: Client, changes: GrantChange[]): Promise<void> {
  if (!changes.length) return;
  await client.query(changes.flatMap((c) => c.sql).join(";\n"));
}
