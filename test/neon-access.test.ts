/**
 * Database access on Neon's role model, emulated on embedded PostgreSQL 17 (migrations/neon-emulation.ts): the
 * migrator is an API-made neon_superuser member that owns the database, worker roles come from the LoginRole
 * provider (SQL), and the runner's grants give each exactly its catalogue entry. Also: a preview branch's copy of
 * dev's tables, owned by dev's migrator, migrated by the preview.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackConfigFromFile } from "../infra/config/load";
import { generatePassword, LOGIN_ROLE_TYPE, loginRoleProvider, type LoginRoleOutputs } from "../infra/neon/login-role";
import { loadFixture } from "../migrations/fixture/load";
import { usePostgres } from "../migrations/embedded";
import {
  createApiRole,
  neonDatabase,
  NEON_SUPERUSER,
  resetApiRolePassword,
  urlAs,
  type NeonBranchDb,
} from "../migrations/neon-emulation";
import { grantsFromConfig, type GrantsSpec } from "../migrations/runner/grants-spec";
import { migrate, RunFailed } from "../migrations/runner/runner";
import { runTsxFixture } from "./helpers/cli";
import { withClient } from "./helpers/db";
import { EngineLifecycle, UNKNOWN } from "./helpers/engine-lifecycle";

const pg = usePostgres({ beforeAll, afterAll });

/** One probe table per platform schema, made by the migrator (the owner, as the app's own migrations are). */
async function addProbes(url: string, schemas: string[]): Promise<void> {
  await withClient(url, (c) =>
    c.query(schemas.map((s) => `CREATE TABLE IF NOT EXISTS ${s}.access_probe (id int)`).join("; ")),
  );
}

type Access = { select: boolean; insert: boolean };

/** What a role can do in each schema, tried for real over its own login. */
async function accessOf(url: string, schemas: string[]): Promise<Record<string, Access>> {
  const out: Record<string, Access> = {};
  await withClient(url, async (c) => {
    const tries = async (sql: string) => {
      try {
        await c.query(sql);
        return true;
      } catch (e) {
        expect((e as { code?: string }).code).toBe("42501"); // permission denied, nothing else
        return false;
      }
    };
    for (const s of schemas) {
      out[s] = {
        select: await tries(`SELECT count(*) FROM ${s}.access_probe`),
        insert: await tries(`INSERT INTO ${s}.access_probe VALUES (1)`),
      };
    }
  });
  return out;
}

/**
 * The "Done when" check for one worker role: SELECT and INSERT in the schemas it writes, SELECT only where it only
 * reads, both denied everywhere else, and no neon_superuser membership.
 */
async function expectLeastPrivilege(admin: Client, url: string, role: string, spec: GrantsSpec): Promise<void> {
  const g = spec.roles[role]!;
  const expected = Object.fromEntries(
    spec.schemas.map((s) => [s, { select: g.writes.includes(s) || g.reads.includes(s), insert: g.writes.includes(s) }]),
  );
  expect({ role, access: await accessOf(url, spec.schemas) }).toEqual({ role, access: expected });
  const { rows } = await admin.query(
    `SELECT pg_has_role($1, '${NEON_SUPERUSER}', 'MEMBER') AS member,
            rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication OR rolsuper AS attrs
       FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  expect({ role, ...rows[0] }).toEqual({ role, member: false, attrs: false });
}

describe("worker roles on Neon's role model", () => {
  let db: NeonBranchDb;
  let admin: Client;
  const spec = grantsFromConfig("dev", loadStackConfigFromFile("dev"));
  const roles: Record<string, LoginRoleOutputs> = {};

  beforeAll(async () => {
    db = await neonDatabase(pg, "mauntic_dev_migrator");
    admin = await pg.client(db.database);
    // The app's tables, made by the migrator as its schema migrations would be.
    await loadFixture(db.migratorUrl);
    await addProbes(db.migratorUrl, spec.schemas);
    for (const role of Object.keys(spec.roles)) {
      const r = await loginRoleProvider.create!({ admin_uri: db.migratorUrl, name: role, password_version: 1 });
      roles[role] = r.outs as LoginRoleOutputs;
    }
    await migrate({ databaseUrl: db.migratorUrl, grants: spec });
  }, 60_000);
  afterAll(async () => admin?.end());

  it("the migrator is what Neon's API makes: a neon_superuser member that reads every table", async () => {
    const { rows } = await admin.query(
      `SELECT pg_has_role('mauntic_dev_migrator', '${NEON_SUPERUSER}', 'MEMBER') AS member,
              has_table_privilege('mauntic_dev_migrator', 'identity.users', 'SELECT') AS reads`,
    );
    expect(rows[0]).toEqual({ member: true, reads: true });
  });

  it("every worker role SELECTs and INSERTs in its own schemas, is denied both elsewhere, is no neon_superuser", async () => {
    expect(Object.keys(roles).sort()).toEqual(Object.keys(spec.roles).sort());
    for (const [role, outs] of Object.entries(roles)) {
      await expectLeastPrivilege(admin, urlAs(db.migratorUrl, role, outs.password), role, spec);
    }
  });

  it("the API-made roles of today fail that same check: neon_superuser reads and writes every schema", async () => {
    // The same worker, made as Neon's API makes roles, with the same grants applied by the runner.
    const role = "mauntic_dev_apimade";
    const password = await createApiRole(admin, role);
    const apiSpec: GrantsSpec = { schemas: spec.schemas, roles: { [role]: spec.roles.mauntic_dev_crm! } };
    await migrate({ databaseUrl: db.migratorUrl, grants: apiSpec });
    await expect(expectLeastPrivilege(admin, urlAs(db.migratorUrl, role, password), role, apiSpec)).rejects.toThrow(
      /expected/,
    );
    const access = await accessOf(urlAs(db.migratorUrl, role, password), spec.schemas);
    expect(Object.values(access).every((a) => a.select && a.insert)).toBe(true);
  });
});

describe("the LoginRole provider as the engine drives it", () => {
  it("preview with unknowns, create, same, rotation, replacement, refresh after an outside drop, destroy", async () => {
    const db = await neonDatabase(pg, "mauntic_dev_migrator");
    const admin = await pg.client(db.database);
    const exists = async (name: string) =>
      (await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount === 1;
    const login = (name: string, password: unknown) =>
      withClient(urlAs(db.migratorUrl, name, String(password)), (c) => c.query("SELECT 1"));
    try {
      await loadFixture(db.migratorUrl);
      type I = { admin_uri: string; name: string; password_version: number };
      const h = new EngineLifecycle<I>(loginRoleProvider, {
        name: "mauntic-dev-neon-role-crm",
        type: LOGIN_ROLE_TYPE,
        outputs: ["password"],
      });
      const inputs: I = { admin_uri: db.migratorUrl, name: "mauntic_dev_lifecycle", password_version: 1 };

      // A first preview: the migrator's URI is not known yet (its password comes from Neon during the up).
      const preview = await h.preview({ ...inputs, admin_uri: UNKNOWN });
      expect(preview).toMatchObject({ op: "create", outs: { password: UNKNOWN } });
      expect(await exists(inputs.name)).toBe(false);

      const created = await h.up(inputs);
      expect(created.op).toBe("create");
      expect(created.outs.password).toMatch(/^[A-Za-z0-9]{32}$/);
      await login(inputs.name, created.outs.password);

      // A second up with nothing changed: no write, the same password.
      expect(await h.up(inputs)).toMatchObject({ op: "same", outs: { password: created.outs.password } });
      // The migrator's password was reset by Neon: an update that only remembers the new URI.
      const reset = urlAs(db.migratorUrl, db.migrator, "a-reset-password");
      expect((await h.preview({ ...inputs, admin_uri: reset })).op).toBe("update");
      // In a preview the URI may be unknown: an update at most, decided for real at `up`.
      expect((await h.preview({ ...inputs, admin_uri: UNKNOWN })).op).toBe("update");

      // Rotation: password_version 2 is an update; the old password stops working at once.
      const rotated = { ...inputs, password_version: 2 };
      expect((await h.preview(rotated)).op).toBe("update");
      const updated = await h.up(rotated);
      expect(updated.op).toBe("update");
      expect(updated.outs.password).not.toBe(created.outs.password);
      await login(inputs.name, updated.outs.password);
      await expect(login(inputs.name, created.outs.password)).rejects.toMatchObject({ code: "28P01" });

      // Another host: replaced, the old role dropped first (the same branch may answer on a new endpoint).
      const elsewhere = await h.preview({ ...rotated, admin_uri: db.migratorUrl.replace("127.0.0.1", "localhost") });
      expect(elsewhere).toMatchObject({ op: "replace", diff: { replaces: ["admin_uri"], deleteBeforeReplace: true } });

      // Another name: the new role is created before the old one, which holds grants, is dropped.
      await migrate({
        databaseUrl: db.migratorUrl,
        grants: { schemas: ["crm"], roles: { [inputs.name]: { reads: ["crm"], writes: [] } } },
      });
      const renamed = { ...rotated, name: "mauntic_dev_lifecycle2" };
      const replaced = await h.up(renamed, { deferDelete: true });
      expect(replaced.op).toBe("replace");
      expect([await exists(inputs.name), await exists(renamed.name)]).toEqual([true, true]);
      await h.deletePending();
      // Dropped as the migrator, which on Neon is no superuser: its grants revoked first.
      expect([await exists(inputs.name), await exists(renamed.name)]).toEqual([false, true]);
      await login(renamed.name, replaced.outs.password);

      // Dropped from outside: refresh drops it from state; the next up creates it again.
      await admin.query(`DROP ROLE ${renamed.name}`);
      expect(await h.refresh()).toEqual({ gone: true });
      expect(h.state).toBeUndefined();
      expect((await h.up(renamed)).op).toBe("create");
      expect(await exists(renamed.name)).toBe(true);

      await h.destroy();
      expect(await exists(renamed.name)).toBe(false);
      expect(h.calls).toContain("delete");
    } finally {
      await admin.end();
    }
  });

  it("refuses to take over an API-made role of the same name, and names why", async () => {
    const db = await neonDatabase(pg, "mauntic_dev_migrator");
    const admin = await pg.client(db.database);
    try {
      await createApiRole(admin, "mauntic_dev_takeover");
      await expect(
        loginRoleProvider.create!({ admin_uri: db.migratorUrl, name: "mauntic_dev_takeover", password_version: 1 }),
      ).rejects.toThrow(/role mauntic_dev_takeover already exists with more than LOGIN \(a neon_superuser member/);
      // A plain role left by a create whose answer was lost is taken over with a new password.
      await withClient(db.migratorUrl, (c) => c.query("CREATE ROLE mauntic_dev_lost LOGIN PASSWORD 'old-password-1A'"));
      const r = await loginRoleProvider.create!({
        admin_uri: db.migratorUrl,
        name: "mauntic_dev_lost",
        password_version: 1,
      });
      await withClient(urlAs(db.migratorUrl, "mauntic_dev_lost", (r.outs as LoginRoleOutputs).password), (c) =>
        c.query("SELECT 1"),
      );
    } finally {
      await admin.end();
    }
  });

  it("a database it cannot reach fails with where it tried, never the password", async () => {
    const uri = "postgres://mauntic_dev_migrator:Sup3rSecretPw@127.0.0.1:1/mauntic";
    const err = (await loginRoleProvider.create!({ admin_uri: uri, name: "mauntic_dev_x", password_version: 1 }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toMatch(
      /^create role mauntic_dev_x: cannot connect as mauntic_dev_migrator to 127\.0\.0\.1\/mauntic: /,
    );
    expect(err.message).not.toContain("Sup3rSecretPw");
  });

  it("serializes under Pulumi's closure serializer and works loaded back, capturing no secret", async () => {
    const db = await neonDatabase(pg, "mauntic_dev_migrator");
    const report = runTsxFixture<Record<string, unknown>>("login-role-serialized.ts", { MIGRATOR_URL: db.migratorUrl });
    expect(report.error).toBeUndefined();
    expect(report).toMatchObject({
      containsSecrets: false,
      containsUrl: false,
      id: "mauntic_dev_serialized",
      passwords: [true, true],
      rotatedDiffers: true,
      readId: "mauntic_dev_serialized",
      goneAfterDelete: true,
    });
  }, 60_000);

  it("check names bad inputs", async () => {
    const r = await loginRoleProvider.check!({} as never, { admin_uri: "", name: "Bad-Name", password_version: 0 });
    expect(r.failures!.map((f) => f.property).sort()).toEqual(["admin_uri", "name", "password_version"]);
  });

  it("passwords: 32 characters, every class, never repeated", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])[A-Za-z0-9]{32}$/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
    // 32 draws from 62 symbols: far above Neon's 60-bit minimum.
    expect(32 * Math.log2(62)).toBeGreaterThan(190);
  });
});

describe("a preview branch of dev", () => {
  it("the preview's migrator (dev's role name, its own password) applies every migration and the grants", async () => {
    // dev: the app's tables, owned by dev's migrator, no index migration yet (they arrive with the pull request).
    const dev = await neonDatabase(pg, "mauntic_dev_migrator");
    await loadFixture(dev.migratorUrl);
    // The branch: a copy of dev's objects with their owners (a template copy here; Neon copies the branch).
    const preview = await neonDatabase(pg, "mauntic_dev_migrator", { template: dev.database });
    // Its password was reset on the branch: dev's password no longer opens it.
    expect(preview.migratorPassword).not.toBe(dev.migratorPassword);
    await expect(
      withClient(urlAs(preview.migratorUrl, dev.migrator, dev.migratorPassword), (c) => c.query("SELECT 1")),
    ).rejects.toMatchObject({ code: "28P01" });

    const spec = grantsFromConfig("pr-42", loadStackConfigFromFile("pr-42"));
    for (const role of Object.keys(spec.roles)) {
      await loginRoleProvider.create!({ admin_uri: preview.migratorUrl, name: role, password_version: 1 });
    }
    const run = await migrate({ databaseUrl: preview.migratorUrl, grants: spec });
    expect(run.migrations.every((m) => m.status === "applied")).toBe(true);
    expect("changes" in run.grants && run.grants.changes.length).toBeGreaterThan(0);
    expect("missingSchemas" in run.grants && run.grants.missingSchemas).toEqual([]);
  }, 60_000);

  it("a migrator of another name (an API role that owns the database, as before) is refused: must be owner", async () => {
    const dev = await neonDatabase(pg, "mauntic_dev_migrator");
    await loadFixture(dev.migratorUrl);
    const other = await neonDatabase(pg, "mauntic_pr_42_migrator", { template: dev.database });
    const err = await migrate({ databaseUrl: other.migratorUrl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailed);
    expect((err as Error).message).toMatch(/must be owner of table/);
  }, 60_000);

  it("resetting a role's password (Neon's reset_password) shuts the old one out", async () => {
    const db = await neonDatabase(pg, "mauntic_dev_resetcheck");
    const admin = await pg.client(db.database);
    try {
      const fresh = await resetApiRolePassword(admin, db.migrator);
      await expect(withClient(db.migratorUrl, (c) => c.query("SELECT 1"))).rejects.toMatchObject({ code: "28P01" });
      await withClient(urlAs(db.migratorUrl, db.migrator, fresh), (c) => c.query("SELECT 1"));
    } finally {
      await admin.end();
    }
  });
});
