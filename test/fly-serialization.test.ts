/**
 * The Fly providers as `pulumi up` runs them: serialized by Pulumi's closure serializer, loaded back in a fresh
 * module, keyed by the stack config's token. Runs in a tsx child process (the serializer fails under vitest's
 * transform).
 */
import { beforeAll, expect, test } from "vitest";
import { runTsxFixture } from "./helpers/cli";

const TOKEN = "fm2_serialize-token-5d2a90";
let report: {
  serialized: Record<string, { chars: number; containsCredential: boolean; containsSecrets: boolean }>;
  error?: string;
  diff: { changes: boolean; replaces: string[] };
  afterCreate: {
    machines: { state: string; config: { guest: { memory_mb: number } } }[];
    volumes: unknown[];
    secrets: string[];
  }[];
  failure?: { name: string; message: string };
  final: unknown[];
  violations: string[];
  authorizations: string[];
};

beforeAll(() => {
  report = runTsxFixture<typeof report>("fly-serialized-providers.ts", { FLY_API_TOKEN: TOKEN });
}, 120_000);

test("every provider serializes without the token or any secret in its text", () => {
  expect(Object.keys(report.serialized).sort()).toEqual(["app", "machine", "secrets", "volume"]);
  for (const s of Object.values(report.serialized))
    expect(s).toMatchObject({ containsCredential: false, containsSecrets: false });
});

test("the deserialized providers create, update and delete against Fly with the configured token", () => {
  expect(report.error).toBeUndefined();
  expect(report.authorizations).toEqual([`FlyV1 ${TOKEN}`]);
  expect(report.diff).toMatchObject({ changes: true, replaces: [] });
  const [app] = report.afterCreate;
  expect(app!.secrets).toEqual(["REDIS_PASSWORD"]);
  expect(app!.machines).toEqual([expect.objectContaining({ state: "started" })]);
  expect(app!.machines[0]!.config.guest.memory_mb).toBe(512);
  expect(report.final).toEqual([]);
  expect(report.violations).toEqual([]);
});

test("errors keep their name and Fly's message after serialization", () => {
  expect(report.failure).toMatchObject({ name: "FlyApiError" });
  expect(report.failure!.message).toMatch(
    /list volumes of app no-such-app failed: HTTP 404: app no-such-app not found/,
  );
});
