/**
 * The Neon providers as `pulumi up` runs them: serialized by Pulumi's closure serializer, loaded back in a fresh
 * module, keyed by the stack config. Runs in a tsx child process (the serializer fails under vitest's transform).
 */
import { beforeAll, expect, test } from "vitest";
import { runTsxFixture } from "./helpers/cli";

const KEY = "neon-serialize-key-0b7e41";
let report: {
  serialized: Record<string, { chars: number; containsCredential: boolean; containsSecrets: boolean }>;
  error?: string;
  diff: { changes: boolean; replaces: string[] };
  rolePasswordIssued: boolean;
  afterCreate: { endpoints: { type: string; autoscaling_limit_max_cu: number }[]; branches: { roles: string[] }[] }[];
  failure?: { name: string; message: string };
  final: unknown[];
  writesDuringOperations: unknown[];
  authorizations: string[];
};

beforeAll(() => {
  report = runTsxFixture<typeof report>("neon-serialized-providers.ts", { NEON_API_KEY: KEY });
});

test("every provider serializes without the API key or any secret in its text", () => {
  expect(Object.keys(report.serialized).sort()).toEqual(["branch", "database", "endpoint", "project", "role"]);
  for (const s of Object.values(report.serialized)) {
    expect(s).toMatchObject({ containsCredential: false, containsSecrets: false });
  }
});

test("the deserialized providers create, update and delete against Neon with the configured key", () => {
  expect(report.error).toBeUndefined();
  expect(report.authorizations).toEqual([`Bearer ${KEY}`]);
  expect(report.diff).toMatchObject({ changes: true, replaces: [] });
  expect(report.rolePasswordIssued).toBe(true);
  const [p] = report.afterCreate;
  expect(p!.endpoints).toEqual([expect.objectContaining({ type: "read_write", autoscaling_limit_max_cu: 2 })]);
  expect(p!.branches[0]!.roles).toEqual(["mauntic_dev_crm", "mauntic_dev_migrator"]);
  expect(report.final).toEqual([]);
  expect(report.writesDuringOperations).toEqual([]);
});

test("errors keep their name and Neon's message after serialization", () => {
  expect(report.failure).toMatchObject({ name: "NeonApiError" });
  expect(report.failure!.message).toMatch(
    /create database other failed: HTTP 400: role nobody does not exist \(request id /,
  );
});
