/**
 * The real CLI with this project's language host (engine/cmd/pulumi-language-nodejs) and @pulumi/pulumi's dynamic
 * provider plugin, on a one-resource program: every engine operation the stacks use, and the policy-pack path.
 */
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { changeSummary, describeWithEngine, EngineWorkspace } from "./helpers/engine";

const PROGRAM = path.join(__dirname, "fixtures", "engine-smoke");
const POLICY = path.join(PROGRAM, "policy");
const STACK = "smoke";
// Each CLI run starts the language host, Node and ts-node: seconds each, tens of seconds on a loaded machine.
const T = 300_000;

describeWithEngine("language host under the real engine", (engine) => {
  let ws: EngineWorkspace;

  beforeAll(async () => {
    ws = new EngineWorkspace(engine, { projectDir: PROGRAM });
    await ws.initStack(STACK);
    await ws.setConfig(STACK, "title", "hello");
    await ws.setConfig(STACK, "body", "a secret body", { secret: true });
  }, T);
  afterAll(() => ws?.remove());

  it("is a real release of the CLI", async () => {
    const r = await ws.ok(undefined, ["version"]);
    expect(r.stdout.trim()).toMatch(/^v3\.\d+\.\d+$/);
    expect(engine.version).toBe(r.stdout.trim());
  }, T);

  it("previews a create with the program's config, secret values kept secret", async () => {
    const preview = await ws.json<{ steps: { op: string; urn: string; newState?: { inputs?: Record<string, unknown> } }[] }>(
      STACK,
      ["preview"],
    );
    const note = preview.steps.find((s) => s.urn.endsWith("::note"));
    expect(note?.op).toBe("create");
    expect(note?.newState?.inputs?.title).toBe("hello");
    expect(note?.newState?.inputs?.body).toBe("[secret]");
  }, T);

  it("creates, then a second up changes nothing, and refresh finds nothing changed", async () => {
    const up = await ws.ok(STACK, ["up", "--yes", "--skip-preview"]);
    expect(up.stdout).toMatch(/\+ 2 created|2 created/);
    const outputs = await ws.json<Record<string, unknown>>(STACK, ["stack", "output", "--show-secrets"]);
    expect(outputs).toMatchObject({ noteId: "note-hello", length: 13, stack: STACK, project: "engine-smoke" });

    const again = await ws.json(STACK, ["preview"]);
    expect(changeSummary(again)).toEqual({ same: 2 });
    const refresh = await ws.json(STACK, ["refresh", "--preview-only"]);
    expect(Object.keys(changeSummary(refresh)).filter((k) => k !== "same")).toEqual([]);
  }, T);

  it("updates in place on a config change and replaces when the title changes", async () => {
    await ws.setConfig(STACK, "body", "a longer secret body", { secret: true });
    expect(changeSummary(await ws.json(STACK, ["preview"]))).toEqual({ same: 1, update: 1 });
    await ws.ok(STACK, ["up", "--yes", "--skip-preview"]);
    expect(await ws.json(STACK, ["stack", "output"])).toMatchObject({ length: 20 });

    await ws.setConfig(STACK, "title", "renamed");
    expect(changeSummary(await ws.json(STACK, ["preview"]))).toEqual({ same: 1, replace: 1 });
  }, T);

  it("runs a policy pack through the language host, with the stack handed to it", async () => {
    await ws.setConfig(STACK, "title", "forbidden");
    const r = await ws.pulumi(STACK, ["preview", "--policy-pack", POLICY]);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain("title-not-forbidden");
    expect(`${r.stdout}${r.stderr}`).toContain(`title is forbidden on stack ${STACK}`);

    await ws.setConfig(STACK, "title", "hello");
    const quiet = await ws.pulumi(STACK, ["preview", "--policy-pack", POLICY]);
    expect(quiet.code, quiet.stdout + quiet.stderr).toBe(0);
  }, T);

  it("destroys everything", async () => {
    await ws.ok(STACK, ["destroy", "--yes", "--skip-preview"]);
    const state = JSON.parse((await ws.ok(STACK, ["stack", "export"])).stdout) as { deployment: { resources?: unknown[] } };
    expect(state.deployment.resources ?? []).toEqual([]);
  }, T);
});
