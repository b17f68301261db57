/**
 * A preview's migrator against the local fake Neon API: the pr-<N> branch inherits dev's migrator role (same name,
 * dev's password); the preview's Role resource adopts it on its own branch and Neon resets its password there, so
 * the preview holds a password that opens its branch only and dev's password stays as it was.
 */
import { afterEach, beforeEach, expect, test } from "vitest";
import { branchProvider, roleProvider, type RoleOutputs } from "../infra/neon/providers";
import type { FakeNeon } from "./fakes/neon";
import { startFakeNeon, stopFakeNeon } from "./helpers/fake-neon";

const KEY = "neon-key-preview-4d1a";
let fake: FakeNeon;
let baseUrl: string;

beforeEach(async () => {
  fake = await startFakeNeon(KEY);
  baseUrl = fake.baseUrl!;
});

afterEach(() => stopFakeNeon(fake));

/** The password Neon holds for a role on a branch (reveal_password). */
async function revealed(project: string, branch: string, role: string): Promise<string> {
  const res = await fetch(`${baseUrl}/projects/${project}/branches/${branch}/roles/${role}/reveal_password`, {
    headers: { authorization: `Bearer ${KEY}`, accept: "application/json" },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { password: string }).password;
}

test("the preview adopts dev's migrator name on its branch with a new password; dev's is untouched", async () => {
  const dev = fake.seedProject("mauntic-dev", { databaseName: "mauntic", roleName: "mauntic_dev_migrator" });
  const devBranch = [...dev.branches.values()][0]!.id;
  const devPassword = await revealed(dev.id, devBranch, "mauntic_dev_migrator");

  const branch = await branchProvider.create({ project_id: dev.id, name: "mauntic-pr-42", parent_id: devBranch });
  const onBranch = { project_id: dev.id, branch_id: branch.id };
  // A child branch starts with dev's roles and dev's passwords.
  expect(await revealed(dev.id, branch.id, "mauntic_dev_migrator")).toBe(devPassword);

  const migrator = await roleProvider.create({ ...onBranch, name: "mauntic_dev_migrator" });
  const previewPassword = (migrator.outs as RoleOutputs).password;
  expect(previewPassword).not.toBe(devPassword);
  expect(await revealed(dev.id, branch.id, "mauntic_dev_migrator")).toBe(previewPassword);
  // dev's branch keeps its password: nothing the preview holds opens it.
  expect(await revealed(dev.id, devBranch, "mauntic_dev_migrator")).toBe(devPassword);
  expect(fake.calls("POST", /\/reset_password$/).map((c) => c.path)).toEqual([
    `/projects/${dev.id}/branches/${branch.id}/roles/mauntic_dev_migrator/reset_password`,
  ]);
});
