/**
 * The stand-in `command` plugin (engine/plugins/command): its provider object driven directly, then the plugin
 * started as the engine starts it and called over gRPC. Semantics checked against pulumi-command v1.2.1's source
 * (provider/pkg/provider/local/commandController.go, commandOutputs.go, common/inputs.go).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_VERSION, commandProvider } from "../engine/plugins/command/provider";
import { isSecret, secret, UNKNOWN } from "../engine/plugins/wire";
import { startEngineLog, startPlugin, type PluginHandle } from "./helpers/plugin";
import { until } from "./helpers/until";

const URN =
  "urn:pulumi:dev::mauntic-infra::mauntic:migrations:PostDeploy$command:local:Command::mauntic-dev-migrations-run";
const p = commandProvider();
let tmp = "";

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cmd-plugin-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("command:local:Command, the provider object", () => {
  it("reports the version of @pulumi/command that package.json pins", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
    expect(COMMAND_VERSION).toBe(pkg.dependencies["@pulumi/command"].replace(/^\^/, ""));
  });

  it("create runs `create` under /bin/sh -c and captures stdout and stderr, one trailing newline trimmed", async () => {
    const r = await p.create(URN, { create: "printf 'out\\n\\n'; echo err >&2" }, false);
    expect(r.outs.stdout).toBe("out\n");
    expect(r.outs.stderr).toBe("err");
    expect(r.id).toMatch(/^mauntic-dev-migrations-run[0-9a-f]{8}$/);
  });

  it("runs nothing in a preview: stdout and stderr are unknown, inputs pass through", async () => {
    const marker = path.join(tmp, "preview-marker");
    const r = await p.create(URN, { create: `touch ${marker}`, environment: { A: "1" } }, true);
    expect(fs.existsSync(marker)).toBe(false);
    expect(r.outs).toMatchObject({ stdout: UNKNOWN, stderr: UNKNOWN, environment: { A: "1" } });
    const u = await p.update(
      "id",
      URN,
      { create: "x", stdout: "old", stderr: "" },
      { create: `touch ${marker}` },
      true,
    );
    expect(fs.existsSync(marker)).toBe(false);
    expect(u.outs).toMatchObject({ stdout: UNKNOWN, stderr: UNKNOWN });
  });

  it("diff: unchanged is no change; create/update/environment changes are updates; a trigger change is a replacement", async () => {
    const olds = {
      create: "a",
      update: "a",
      environment: { X: secret("s") },
      triggers: ["t1"],
      stdout: "o",
      stderr: "",
    };
    expect(
      await p.diff("id", URN, olds, { create: "a", update: "a", environment: { X: secret("s") }, triggers: ["t1"] }),
    ).toEqual({
      changes: false,
      replaces: [],
    });
    for (const news of [
      { create: "b", update: "a", environment: { X: secret("s") }, triggers: ["t1"] },
      { create: "a", update: "a", environment: { X: secret("s2") }, triggers: ["t1"] },
      { create: "a", update: "a", environment: { X: secret("s"), Y: "1" }, triggers: ["t1"] },
    ]) {
      expect(await p.diff("id", URN, olds, news)).toEqual({ changes: true, replaces: [] });
    }
    expect(
      await p.diff("id", URN, olds, { create: "a", update: "a", environment: { X: secret("s") }, triggers: ["t2"] }),
    ).toEqual({
      changes: true,
      replaces: ["triggers"],
    });
    // An input not known until apply (a preview) is a change.
    expect(
      (await p.diff("id", URN, olds, { create: "a", update: "a", environment: UNKNOWN, triggers: ["t1"] })).changes,
    ).toBe(true);
  });

  it("update runs `update` with the previous output in PULUMI_COMMAND_STDOUT; `create` when there is no update", async () => {
    const olds = { create: "echo c", update: "echo u", stdout: "previous", stderr: "" };
    const u = await p.update("id", URN, olds, { create: "echo c", update: 'echo "u:$PULUMI_COMMAND_STDOUT"' }, false);
    expect(u.outs.stdout).toBe("u:previous");
    const c = await p.update("id", URN, olds, { create: 'echo "c:$PULUMI_COMMAND_STDOUT"' }, false);
    expect(c.outs.stdout).toBe("c:previous");
    const off = await p.update(
      "id",
      URN,
      olds,
      { create: 'echo "c:${PULUMI_COMMAND_STDOUT-unset}"', addPreviousOutputInEnv: false },
      false,
    );
    expect(off.outs.stdout).toBe("c:unset");
    const none = await p.update("id", URN, olds, { delete: "true" }, false);
    expect(none.outs.stdout).toBe("previous");
  });

  it("delete runs `delete` with the previous stdout/stderr, and nothing when there is none", async () => {
    const out = path.join(tmp, "deleted");
    await p.delete("id", URN, {
      delete: `echo "$PULUMI_COMMAND_STDOUT|$PULUMI_COMMAND_STDERR" > ${out}`,
      stdout: "so",
      stderr: "se",
    });
    expect(fs.readFileSync(out, "utf8")).toBe("so|se\n");
    const off = path.join(tmp, "deleted-off");
    await p.delete("id", URN, {
      delete: `echo "\${PULUMI_COMMAND_STDOUT-unset}" > ${off}`,
      stdout: "so",
      stderr: "",
      addPreviousOutputInEnv: false,
    });
    expect(fs.readFileSync(off, "utf8")).toBe("unset\n");
    await expect(p.delete("id", URN, { create: "exit 1", stdout: "", stderr: "" })).resolves.toBeUndefined();
  });

  it("a non-zero exit fails the step with the exit status, the command and its output", async () => {
    await expect(p.create(URN, { create: "echo partial; echo broken >&2; exit 3" }, false)).rejects.toThrow(
      'exit status 3: running "echo partial; echo broken >&2; exit 3":\npartial\nbroken\n',
    );
    await expect(p.update("id", URN, { stdout: "", stderr: "" }, { update: "exit 1" }, false)).rejects.toThrow(
      "exit status 1",
    );
    await expect(p.delete("id", URN, { delete: "exit 2", stdout: "", stderr: "" })).rejects.toThrow("exit status 2");
  });

  it("honours interpreter, dir, environment and stdin", async () => {
    const r = await p.create(URN, { create: "console.log(6 * 7)", interpreter: [process.execPath, "-e"] }, false);
    expect(r.outs.stdout).toBe("42");
    const d = await p.create(URN, { create: "pwd", dir: tmp }, false);
    expect(fs.realpathSync(d.outs.stdout)).toBe(fs.realpathSync(tmp));
    const e = await p.create(
      URN,
      { create: 'echo "$GREETING"; cat', environment: { GREETING: "hi" }, stdin: "from stdin" },
      false,
    );
    expect(e.outs.stdout).toBe("hi\nfrom stdin");
  });

  it("a secret environment value keeps `environment` secret in the outputs, and stdout is not made secret", async () => {
    const r = await p.create(
      URN,
      { create: 'echo "len=${#DATABASE_URL}"', environment: { DATABASE_URL: secret("postgres://u:pw@h/db"), A: "1" } },
      false,
    );
    expect(r.outs.stdout).toBe("len=20");
    expect(isSecret(r.outs.environment.DATABASE_URL)).toBe(true);
    expect(isSecret(r.outs.stdout)).toBe(false);
  });

  it("sends each output line to the engine's log on the resource's row, as `logging` selects", async () => {
    const lines: [string, string][] = [];
    const q = commandProvider();
    q.attachLog!((urn, line) => lines.push([urn, line]));
    const cmd = "echo one; echo two >&2; printf three";
    await q.create(URN, { create: cmd }, false);
    expect(lines.map(([, l]) => l).sort()).toEqual(["one", "three", "two"]);
    expect(new Set(lines.map(([u]) => u))).toEqual(new Set([URN]));
    for (const [logging, expected] of [
      ["stdout", ["one", "three"]],
      ["stderr", ["two"]],
      ["stdoutAndStderr", ["one", "three", "two"]],
      ["none", []],
    ] as const) {
      lines.length = 0;
      const r = await q.create(URN, { create: cmd, logging }, false);
      expect(lines.map(([, l]) => l).sort(), logging).toEqual(expected);
      expect(r.outs.stdout).toBe("one\nthree"); // captured whatever is logged
    }
  });

  it("check refuses wrong types and unknown properties, naming them; read keeps the state", async () => {
    const c = await p.check(URN, {}, { create: 1, interpreter: "sh", logging: "loud", bogus: true });
    expect(c.failures?.map((f) => f.property).sort()).toEqual(["bogus", "create", "interpreter", "logging"]);
    expect((await p.check(URN, {}, { create: "x", environment: { A: secret("b") } })).failures).toBeUndefined();
    const state = { create: "x", stdout: "o", stderr: "" };
    expect(await p.read("id", URN, state)).toEqual({ id: "id", props: state, inputs: { create: "x" } });
  });
});

describe("command plugin started as the engine starts it", () => {
  let plugin: PluginHandle;
  let engine: Awaited<ReturnType<typeof startEngineLog>>;
  beforeAll(async () => {
    engine = await startEngineLog();
    plugin = await startPlugin("command", { cwd: tmp, engineAddress: engine.address });
  }, 60_000);
  afterAll(async () => {
    await plugin?.stop();
    await engine?.stop();
  });

  it("answers GetPluginInfo with 1.2.1 and declares preview support and secrets in Configure", async () => {
    expect(await plugin.pluginVersion()).toBe("1.2.1");
    expect(await plugin.configure({})).toEqual({ supportsPreview: true, acceptSecrets: true });
  });

  it("create, no-op diff, update, replacement on triggers, delete, over gRPC", async () => {
    const inputs = {
      create: "echo created; pwd",
      update: 'echo "updated after $PULUMI_COMMAND_STDOUT"',
      delete: `echo "$PULUMI_COMMAND_STDOUT" > deleted.txt`,
      environment: { TOKEN: secret("t0p") },
      triggers: ["checksum-1"],
    };
    const checked = await plugin.check(URN, {}, inputs);
    expect(checked.failures).toEqual([]);
    const preview = await plugin.create(URN, checked.inputs, true);
    expect(preview.props.stdout).toBe(UNKNOWN);
    expect(fs.existsSync(path.join(tmp, "deleted.txt"))).toBe(false);

    const created = await plugin.create(URN, checked.inputs);
    // The engine's cwd for the plugin is the program folder: commands run there when `dir` is not set.
    expect(created.props.stdout).toBe(`created\n${fs.realpathSync(tmp)}`);
    expect(isSecret(created.props.environment.TOKEN)).toBe(true);

    expect(await plugin.diff(created.id, URN, created.props, inputs)).toEqual({ changes: "none", replaces: [] });
    const changedEnv = { ...inputs, environment: { TOKEN: secret("rotated") } };
    expect(await plugin.diff(created.id, URN, created.props, changedEnv)).toEqual({ changes: "some", replaces: [] });
    const updated = await plugin.update(created.id, URN, created.props, changedEnv);
    expect(updated.stdout).toBe(`updated after created\n${fs.realpathSync(tmp)}`);
    expect(await plugin.diff(created.id, URN, updated, { ...changedEnv, triggers: ["checksum-2"] })).toEqual({
      changes: "some",
      replaces: ["triggers"],
    });

    await plugin.delete(created.id, URN, updated);
    expect(fs.readFileSync(path.join(tmp, "deleted.txt"), "utf8")).toBe(`${updated.stdout}\n`);
  });

  it("prints the command's lines on the resource's row through the engine's Log service (ephemeral INFO)", async () => {
    engine.lines.length = 0;
    await plugin.create(URN, { create: "echo migrating; echo 3 indexes >&2" });
    // Log calls travel beside the Create call: wait for both lines rather than assume they came first.
    await until("two log lines", async () => (engine.lines.length >= 2 ? true : undefined), 10_000);
    expect(engine.lines.sort((a, b) => a.message.localeCompare(b.message))).toEqual([
      { urn: URN, message: "3 indexes", severity: 1, ephemeral: true },
      { urn: URN, message: "migrating", severity: 1, ephemeral: true },
    ]);
  });

  it("refresh keeps the Command as it is (no Read of its own)", async () => {
    const state = { create: "echo x", stdout: "x", stderr: "" };
    expect(await plugin.read("cmd-1", URN, state, { create: "echo x" })).toEqual({ id: "cmd-1", props: state });
  });

  it("a failing command fails the gRPC call with the command's output", async () => {
    await expect(plugin.create(URN, { create: "echo nope >&2; exit 4" })).rejects.toThrow(
      /exit status 4: running .*\nnope/,
    );
  });
});
