/**
 * Neon's role model on embedded PostgreSQL: what plain PostgreSQL tests cannot show is that on Neon every role made
 * through the API, console or CLI is a member of `neon_superuser`, which reads and writes every table. This makes
 * that membership here, as Neon makes it, so least privilege is proven against it:
 *
 * - `neon_superuser`: NOLOGIN CREATEDB CREATEROLE BYPASSRLS REPLICATION, in pg_read_all_data, pg_write_all_data
 *   and pg_monitor (Neon's "Manage roles" guide, "The neon_superuser role"; a pg_dumpall of a Neon branch shows the
 *   same attributes and `GRANT pg_monitor TO neon_superuser WITH ADMIN OPTION`): so the migrator sees every role's
 *   backends with their state in pg_stat_activity (the monitor's pool utilization).
 * - An API-made role: `CREATE ROLE x INHERIT CREATEROLE CREATEDB BYPASSRLS REPLICATION IN ROLE neon_superuser`
 *   with LOGIN and a password, as Neon's compute_ctl creates every role of the compute spec
 *   (neondatabase/neon compute_tools/src/spec_apply.rs). The migrator is one, and owns the platform database.
 * - A database made through the API: owned by its role, `GRANT ALL ON DATABASE ... TO neon_superuser`
 *   (compute_ctl, as Neon's own regression tests set it up).
 * - `reset_password` on a branch: a new password for that role on that branch only (roles belong to a branch:
 *   "Manage roles"); here the server is the branch.
 *
 * Roles are per cluster in PostgreSQL: every statement here is safe to repeat on a shared test server.
 */
import { randomBytes } from "node:crypto";
import { escapeIdentifier, escapeLiteral, type Client } from "pg";
import type { PgServer } from "./embedded";
import type { GrantsSpec } from "./runner/grants-spec";

export const NEON_SUPERUSER = "neon_superuser";

/** The embedded server's superuser plays Neon's `cloud_admin`, the only one that can make neon_superuser roles. */
export async function ensureNeonSuperuser(admin: Client): Promise<void> {
  await admin.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${NEON_SUPERUSER}') THEN
      CREATE ROLE ${NEON_SUPERUSER} NOLOGIN CREATEDB CREATEROLE BYPASSRLS REPLICATION;
    END IF;
  END $$;
  GRANT pg_read_all_data, pg_write_all_data, pg_monitor TO ${NEON_SUPERUSER}`);
}

/** A Neon-looking password (Neon's API returns 12+ characters of letters and digits). */
export function apiPassword(): string {
  return `npg_${randomBytes(12).toString("base64url").replace(/[-_]/g, "x")}`;
}

/** A role as Neon's API makes it: neon_superuser member, LOGIN, the attributes compute_ctl gives. Returns its password. */
export async function createApiRole(admin: Client, name: string, password = apiPassword()): Promise<string> {
  await ensureNeonSuperuser(admin);
  const exists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name]);
  const attrs = `LOGIN INHERIT CREATEROLE CREATEDB BYPASSRLS REPLICATION PASSWORD ${escapeLiteral(password)}`;
  if (exists.rowCount) {
    await admin.query(`ALTER ROLE ${escapeIdentifier(name)} ${attrs}`);
    await admin.query(`GRANT ${NEON_SUPERUSER} TO ${escapeIdentifier(name)}`);
  } else {
    await admin.query(`CREATE ROLE ${escapeIdentifier(name)} ${attrs} IN ROLE ${NEON_SUPERUSER}`);
  }
  return password;
}

/** Neon's `reset_password` of a role on this branch: a new password, the old one stops working. */
export async function resetApiRolePassword(admin: Client, name: string): Promise<string> {
  const password = apiPassword();
  await admin.query(`ALTER ROLE ${escapeIdentifier(name)} PASSWORD ${escapeLiteral(password)}`);
  return password;
}

/** `postgres://user:password@host:port/db` for another role on the same server and database. */
export function urlAs(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

export interface NeonBranchDb {
  /** The platform database, as the migrator (the URL the post-deploy step and the login-role provider get). */
  migratorUrl: string;
  migrator: string;
  migratorPassword: string;
  database: string;
}

/**
 * A database as a Neon project or branch has it: an API-made migrator that owns it, neon_superuser granted on it.
 * `migrator` names the role (it is reused when it exists, with a new password, as the Role provider adopts one).
 */
export async function neonDatabase(
  pg: PgServer,
  migrator: string,
  opts: { template?: string; name?: string } = {},
): Promise<NeonBranchDb> {
  const superUrl = await pg.newDatabase(opts);
  const database = new URL(superUrl).pathname.slice(1);
  const admin = await pg.client(database);
  try {
    const password = await createApiRole(admin, migrator);
    await admin.query(
      `ALTER DATABASE ${escapeIdentifier(database)} OWNER TO ${escapeIdentifier(migrator)};
       GRANT ALL ON DATABASE ${escapeIdentifier(database)} TO ${NEON_SUPERUSER}`,
    );
    return { migratorUrl: urlAs(superUrl, migrator, password), migrator, migratorPassword: password, database };
  } finally {
    await admin.end();
  }
}

/**
 * The rehearsal's line on the worker roles: none in neon_superuser, and each one's table privileges exactly its
 * declared schemas (SELECT where it reads or writes, INSERT where it writes), read from the catalog. Throws, naming
 * each role and schema that differ.
 */
export async function checkWorkerAccess(db: Client, grants: GrantsSpec): Promise<string> {
  const { rows } = await db.query<{ role: string; schema: string; sel: boolean; ins: boolean; member: boolean }>(
    `SELECT r.role, n.nspname AS schema,
            bool_and(has_table_privilege(r.role, c.oid, 'SELECT')) AS sel,
            bool_and(has_table_privilege(r.role, c.oid, 'INSERT')) AS ins,
            pg_has_role(r.role, '${NEON_SUPERUSER}', 'MEMBER') AS member
       FROM unnest($1::text[]) AS r(role) CROSS JOIN pg_namespace n
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind = 'r'
      WHERE n.nspname = ANY($2::text[]) GROUP BY r.role, n.nspname`,
    [Object.keys(grants.roles), grants.schemas],
  );
  const wrong = rows.filter((r) => {
    const g = grants.roles[r.role]!;
    const writes = g.writes.includes(r.schema);
    return r.member || r.sel !== (writes || g.reads.includes(r.schema)) || r.ins !== writes;
  });
  if (wrong.length) {
    throw new Error(
      `worker access differs from the catalogue: ${wrong.map((w) => `${w.role} on ${w.schema}`).join(", ")}`,
    );
  }
  return `access: ${Object.keys(grants.roles).length} worker roles made with SQL, none in ${NEON_SUPERUSER}, each with exactly its declared schemas`;
}
