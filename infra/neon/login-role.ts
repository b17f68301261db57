/**
 * A worker's login role, made with SQL by the migrator (type `pulumi-nodejs:dynamic/postgres:LoginRole`).
 *
 * Why SQL and not Neon's API: every role made through Neon's API, console or CLI is a member of `neon_superuser`,
 * which reads and writes every table (Neon, "Manage database access"); a role made with `CREATE ROLE` by a
 * neon_superuser member has only what is granted to it ("Manage roles", "Manage roles with SQL"). The grants step
 * of the post-deploy runner then gives it exactly its catalogue entry's schemas.
 *
 * - The provider connects with the migrator's direct URI (an input, secret) and runs `CREATE ROLE ... LOGIN PASSWORD`
 *   with a password it generates: a secret output from the moment it exists (additionalSecretOutputs). Neon takes
 *   passwords in plain text only ("Hashed passwords are not supported") with at least 60 bits of entropy: ours
 *   are 32 characters of [A-Za-z0-9] (190 bits).
 * - Rotation: a new `password_version` (workers.<w>.database.passwordVersion) is an update: `ALTER ROLE ... PASSWORD`
 *   and a new secret output, which every Hyperdrive config and Fly secret built on it follows in the same deploy.
 * - Replaced (a new role, the old one dropped after) when its name or its database (host, database) changes.
 * - Delete revokes what the role holds in this database and drops it. PostgreSQL 16+ gives the creator of a role
 *   ADMIN OPTION on it but not its privileges (createrole_self_grant is empty by default), and `DROP OWNED BY`
 *   needs them: the migrator grants itself the role first.
 *
 * Serialized by Pulumi's closure serializer into each resource's state: it captures no secret (the URI comes in as
 * an input at run time).
 */
import { randomInt } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { Client, escapeIdentifier, escapeLiteral } from "pg";
// The engine's unknown placeholder (a preview input that depends on an output not known yet).
import { UNKNOWN } from "../dynamic/diff";

export const POSTGRES_MODULE = "postgres";
export const LOGIN_ROLE_TYPE = `pulumi-nodejs:dynamic/${POSTGRES_MODULE}:LoginRole`;

export interface LoginRoleInputs {
  /** The migrator's URI on the endpoint's direct host (secret). */
  admin_uri: string;
  /** The role's name: cloudName(stack, "pgRole", worker). */
  name: string;
  /** Bump to rotate the password. */
  password_version: number;
}

export interface LoginRoleOutputs extends LoginRoleInputs {
  /** Secret. */
  password: string;
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 characters drawn uniformly (crypto.randomInt) with at least one lowercase, uppercase letter and digit. */
export function generatePassword(length = 32): string {
  for (;;) {
    let p = "";
    for (let i = 0; i < length; i++) p += ALPHABET[randomInt(ALPHABET.length)];
    if (/[a-z]/.test(p) && /[A-Z]/.test(p) && /[0-9]/.test(p)) return p;
  }
}

/**
 * The server a URI points at (host, port): roles live in a branch's cluster, not in one database, so only another
 * host (another endpoint or branch) needs a new role; another database name on the same host is an update.
 */
function target(uri: string): string | undefined {
  if (uri === UNKNOWN) return undefined;
  try {
    const u = new URL(uri);
    return `${u.hostname}:${u.port || "5432"}`;
  } catch {
    return undefined;
  }
}

interface RoleState {
  exists: boolean;
  /** A neon_superuser member or a role with attributes beyond LOGIN: made by Neon's API, or changed by hand. */
  privileged: boolean;
}

// Attributes and membership read in one query; neon_superuser is looked up by name so that plain PostgreSQL works.
const STATE_SQL = `SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
         OR EXISTS (SELECT 1 FROM pg_roles n WHERE n.rolname = 'neon_superuser' AND pg_has_role(r.oid, n.oid, 'MEMBER'))
         AS privileged
    FROM pg_roles r WHERE r.rolname = $1`;

async function withAdmin<T>(uri: string, what: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: uri, application_name: "mauntic-login-role" });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (e) {
    const u = new URL(uri);
    // No password in the message. A preview branch past its TTL takes its roles with it: nothing is left to drop.
    throw new Error(
      `${what}: cannot connect as ${decodeURIComponent(u.username)} to ${u.hostname}${u.pathname}: ${(e as Error).message} (if that branch was deleted, its roles went with it: pulumi state delete the resource)`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function roleState(c: Client, name: string): Promise<RoleState> {
  const { rows } = await c.query<{ privileged: boolean }>(STATE_SQL, [name]);
  return rows[0] ? { exists: true, privileged: rows[0].privileged } : { exists: false, privileged: false };
}

/**
 * The only attributes a worker role has: it logs in, and everything else is granted per schema. ALTER leaves out
 * NOSUPERUSER: PostgreSQL refuses any mention of SUPERUSER from a role that is not one (a role found with it is
 * refused before, by roleState).
 */
const ATTRIBUTES = "LOGIN NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";
const roleSql = (verb: "CREATE" | "ALTER", name: string, password: string) =>
  `${verb} ROLE ${escapeIdentifier(name)} WITH ${verb === "CREATE" ? "NOSUPERUSER " : ""}${ATTRIBUTES} PASSWORD ${escapeLiteral(password)}`;

export const loginRoleProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: LoginRoleInputs, news: LoginRoleInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof news.name !== "string" || (news.name !== UNKNOWN && !ROLE_NAME.test(news.name))) {
      failures.push({ property: "name", reason: `'${String(news.name)}' is not a role name (allowed: ${ROLE_NAME})` });
    }
    if (!Number.isInteger(news.password_version) || news.password_version < 1) {
      failures.push({
        property: "password_version",
        reason: `${String(news.password_version)} (allowed: an integer >= 1; bump it to rotate the password)`,
      });
    }
    if (typeof news.admin_uri !== "string" || !news.admin_uri) {
      failures.push({ property: "admin_uri", reason: "missing (allowed: the migrator's postgres:// URI)" });
    }
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: LoginRoleOutputs, news: LoginRoleInputs) {
    const replaces: string[] = [];
    if (olds.name !== news.name) replaces.push("name");
    const before = target(olds.admin_uri);
    const after = target(news.admin_uri);
    // Unknown in a preview: the engine asks again with the real value before it changes anything.
    if (after !== undefined && before !== after) replaces.push("admin_uri");
    const changes =
      replaces.length > 0 || olds.password_version !== news.password_version || olds.admin_uri !== news.admin_uri;
    // Another host may still be the same branch (a replaced endpoint): create-before-delete would take the role
    // over and then drop it. Dropping first is safe there and on a new branch alike. A new name never collides.
    return { changes, replaces, deleteBeforeReplace: replaces.includes("admin_uri") };
  },

  async create(inputs: LoginRoleInputs) {
    const password = generatePassword();
    await withAdmin(inputs.admin_uri, `create role ${inputs.name}`, async (c) => {
      const state = await roleState(c, inputs.name);
      if (state.privileged) {
        throw new Error(
          `role ${inputs.name} already exists with more than LOGIN (a neon_superuser member made through Neon's API, console or CLI, or changed by hand): a worker role must hold only its grants (allowed: drop that role, or name the worker differently)`,
        );
      }
      // An existing plain role (a create whose answer was lost): taken over with a new password.
      await c.query(roleSql(state.exists ? "ALTER" : "CREATE", inputs.name, password));
    });
    return { id: inputs.name, outs: { ...inputs, password } satisfies LoginRoleOutputs };
  },

  async read(id: string, props?: LoginRoleOutputs) {
    const state = await withAdmin(props!.admin_uri, `read role ${props!.name}`, (c) => roleState(c, props!.name));
    if (!state.exists) return {};
    return { id, props: { ...props! } };
  },

  async update(_id: string, olds: LoginRoleOutputs, news: LoginRoleInputs) {
    let password = olds.password;
    if (olds.password_version !== news.password_version) {
      password = generatePassword();
      await withAdmin(news.admin_uri, `rotate the password of role ${news.name}`, (c) =>
        c.query(roleSql("ALTER", news.name, password)),
      );
    }
    return { outs: { ...news, password } satisfies LoginRoleOutputs };
  },

  async delete(_id: string, props: LoginRoleOutputs) {
    await withAdmin(props.admin_uri, `drop role ${props.name}`, async (c) => {
      if (!(await roleState(c, props.name)).exists) return;
      const r = escapeIdentifier(props.name);
      await c.query(`GRANT ${r} TO CURRENT_USER; DROP OWNED BY ${r}; DROP ROLE ${r}`);
    });
  },
};

type Args = { [K in keyof LoginRoleInputs]: pulumi.Input<LoginRoleInputs[K]> };

export class LoginRole extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  /** Secret from the moment the provider generates it. */
  declare readonly password: pulumi.Output<string>;

  constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
    super(
      loginRoleProvider,
      name,
      { ...args, admin_uri: pulumi.secret(args.admin_uri), password: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["password", "admin_uri"] }),
      POSTGRES_MODULE,
      "LoginRole",
    );
  }
}
