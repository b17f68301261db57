/**
 * Hyperdrive's test connection as the Cloudflare API stand-in makes it, against embedded PostgreSQL 17: a config is
 * created only when its origin's user, password and database log in and answer `;`, and each failure is the code
 * Cloudflare's troubleshooting table gives (developers.cloudflare.com/hyperdrive/observability/troubleshooting/),
 * reaching the user through the stand-in plugin's create.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cloudflareProvider } from "../engine/plugins/cloudflare/provider";
import { secret } from "../engine/plugins/wire";
import { usePostgres } from "../migrations/embedded";
import { FakeCloudflareApi } from "./fakes/cloudflare-api";

const ACCOUNT = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8";
const URN =
  "urn:pulumi:dev::mauntic-infra::mauntic:cloudflare:Hyperdrive$cloudflare:index/hyperdriveConfig:HyperdriveConfig::hd";
const pg = usePostgres({ beforeAll, afterAll });
const fake = new FakeCloudflareApi();
let baseUrl = "";

beforeAll(async () => {
  baseUrl = await fake.start();
  await pg.newDatabase({ name: "mauntic" });
  const c = await pg.client();
  try {
    await c.query("CREATE ROLE campaigns LOGIN PASSWORD 'right-password'");
    await c.query("CREATE ROLE locked PASSWORD 'right-password'"); // NOLOGIN: the role exists but may not log in
  } finally {
    await c.end();
  }
});
afterAll(() => fake.stop());
beforeEach(() => fake.reset());
afterEach(() => expect(fake.violations).toEqual([]));

const inputs = (over: { user?: string; password?: string; database?: string } = {}) => ({
  accountId: ACCOUNT,
  name: "mauntic-dev-hd-campaigns",
  origin: {
    scheme: "postgresql",
    host: "127.0.0.1",
    port: pg.port,
    database: over.database ?? "mauntic",
    user: over.user ?? "campaigns",
    password: secret(over.password ?? "right-password"),
  },
  caching: { disabled: true },
});

describe("Hyperdrive's origin check against PostgreSQL", () => {
  it("creates the config when the role logs in to the database and `;` runs", async () => {
    const p = cloudflareProvider({ CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl });
    const r = await p.create(URN, inputs(), false);
    expect(fake.hyperdrive.get(r.id)?.origin.user).toBe("campaigns");
  });

  it.each([
    ["a wrong password", 2013, "Invalid database credentials.", { password: "wrong" }],
    ["a role that may not log in", 2013, "Invalid database credentials.", { user: "locked" }],
    ["a role that does not exist", 2013, "Invalid database credentials.", { user: "nobody" }],
    ["a database that does not exist", 2014, "The specified database name does not exist.", { database: "missing" }],
  ] as const)("refuses %s with %i, creating nothing", async (_what, code, message, over) => {
    const p = cloudflareProvider({ CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl });
    await expect(p.create(URN, inputs(over), false)).rejects.toThrow(`"code":${code},"message":"${message}"`);
    expect(fake.hyperdrive.size).toBe(0);
  });

  it("reaches a named origin through resolveOrigin, keeping the name in the config", async () => {
    fake.resolveOrigin = (host, port) =>
      host === "ep-cool-1-pooler.neon.test" ? { host: "127.0.0.1", port: pg.port } : { host, port };
    const p = cloudflareProvider({ CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl });
    const named = inputs();
    const r = await p.create(
      URN,
      { ...named, origin: { ...named.origin, host: "ep-cool-1-pooler.neon.test", port: 5432 } },
      false,
    );
    expect(r.outs.origin).toMatchObject({ host: "ep-cool-1-pooler.neon.test", port: 5432 });
  });

  it("checks the origin again when an update changes it, and not when only the caching changes", async () => {
    const p = cloudflareProvider({ CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl });
    const r = await p.create(URN, inputs(), false);
    await expect(p.update(r.id, URN, r.outs, inputs({ password: "wrong" }), false)).rejects.toThrow('"code":2013');
    expect(fake.hyperdrive.get(r.id)?.origin.password).toBe("right-password");
    // A caching change keeps the origin: no new login (a stopped database would not fail it).
    const cachingOnly = { ...inputs(), caching: { disabled: false, maxAge: 30 } };
    const u = await p.update(r.id, URN, r.outs, cachingOnly, false);
    expect(u.outs.caching).toMatchObject({ disabled: false, maxAge: 30 });
  });
});
