/**
 * The engine-lifecycle harness itself, against a small in-memory provider: the order of provider calls for each
 * engine sequence, what crosses the wire, and what state holds after each step.
 */
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, test } from "vitest";
import { EngineLifecycle, UNKNOWN } from "./helpers/engine-lifecycle";

type Inputs = { name: string; zone?: string; size?: number };

/** A store of named things; `zone` forces a replacement, `size` is updated in place. */
function thingProvider(opts: { deleteBeforeReplace?: boolean; updateOuts?: boolean; undefinedOut?: boolean } = {}) {
  const live = new Map<string, Inputs>();
  const seen: { diffNews?: Record<string, unknown>; checkOlds: Record<string, unknown>[] } = { checkOlds: [] };
  let next = 0;
  const provider: pulumi.dynamic.ResourceProvider = {
    async check(olds, news) {
      seen.checkOlds.push(olds);
      const failures = typeof news.size === "number" && news.size < 0 ? [{ property: "size", reason: "negative" }] : [];
      return { inputs: news, failures };
    },
    async diff(_id, olds, news) {
      seen.diffNews = news;
      const replaces = olds.zone !== news.zone ? ["zone"] : [];
      const changes = replaces.length > 0 || olds.size !== news.size || olds.name !== news.name;
      return { changes, replaces, deleteBeforeReplace: opts.deleteBeforeReplace };
    },
    async create(inputs) {
      const id = `t-${++next}`;
      live.set(id, { name: inputs.name, zone: inputs.zone, size: inputs.size });
      return { id, outs: { ...inputs, thing_id: id, ...(opts.undefinedOut ? { extra: undefined } : {}) } };
    },
    async read(id, props) {
      const t = live.get(id);
      // Only the fields it has: an undefined value cannot cross the wire.
      return t ? { id, props: { ...props, ...JSON.parse(JSON.stringify(t)) } } : {};
    },
    async update(id, _olds, news) {
      live.set(id, { name: news.name, zone: news.zone, size: news.size });
      return opts.updateOuts === false ? {} : { outs: { ...news, thing_id: id } };
    },
    async delete(id) {
      live.delete(id);
    },
  };
  return { provider, live, seen };
}

describe("engine-lifecycle harness", () => {
  test("create, then a second up with nothing changed is a same step: no write, old outputs kept", async () => {
    const { provider, live } = thingProvider();
    const h = new EngineLifecycle<Inputs>(provider, { name: "thing", outputs: ["thing_id"] });
    const first = await h.up({ name: "a", zone: "z1", size: 1 });
    expect(first).toMatchObject({ op: "create", id: "t-1", outs: { name: "a", thing_id: "t-1" } });
    const second = await h.up({ name: "a", zone: "z1", size: 1 });
    expect(second.op).toBe("same");
    expect(h.calls).toEqual(["check", "create", "check", "diff"]);
    expect(h.state).toEqual({ id: "t-1", inputs: { name: "a", zone: "z1", size: 1 }, outs: second.outs });
    expect(live.size).toBe(1);
  });

  test("check gets the old inputs on an update and none on a create or a replacement", async () => {
    const { provider, seen } = thingProvider();
    const h = new EngineLifecycle<Inputs>(provider);
    await h.up({ name: "a", zone: "z1", size: 1 });
    await h.up({ name: "a", zone: "z1", size: 2 });
    await h.up({ name: "a", zone: "z2", size: 2 });
    expect(seen.checkOlds.map((o) => o.size ?? null)).toEqual([null, 1, 2, null]);
    // The provider's serialized text rides along in inputs, as `__provider`.
    expect(seen.checkOlds[1]).toHaveProperty("__provider");
  });

  test("preview: unknown inputs reach diff as the placeholder; nothing is written; declared outputs are unknown", async () => {
    const { provider, live, seen } = thingProvider();
    const h = new EngineLifecycle<Inputs>(provider, { outputs: ["thing_id"] });
    const fresh = await h.preview({ name: "a", zone: UNKNOWN, size: 1 });
    expect(fresh).toMatchObject({ op: "create", id: UNKNOWN, outs: { thing_id: UNKNOWN, zone: UNKNOWN } });
    expect(live.size).toBe(0);

    await h.up({ name: "a", zone: "z1", size: 1 });
    const update = await h.preview({ name: "a", zone: "z1", size: 2 });
    // An update's preview: the old id, the new inputs as the state, outputs not among them unknown.
    expect(update).toMatchObject({ op: "update", id: "t-1", outs: { size: 2, thing_id: UNKNOWN } });
    const unknownZone = await h.preview({ name: "a", zone: UNKNOWN, size: 1 });
    expect(seen.diffNews!.zone).toBe(UNKNOWN);
    expect(unknownZone.op).toBe("replace");
    expect(live.get("t-1")).toEqual({ name: "a", zone: "z1", size: 1 });
    expect(h.calls.filter((c) => c !== "check" && c !== "diff")).toEqual(["create"]);
    await expect(h.up({ name: "a", zone: UNKNOWN })).rejects.toThrow(/never sees unknown inputs/);
  });

  test("replacement is create-before-delete unless the diff asks otherwise; deferred deletes wait for the end", async () => {
    const cbd = thingProvider();
    const h = new EngineLifecycle<Inputs>(cbd.provider);
    await h.up({ name: "a", zone: "z1" });
    h.calls.length = 0;
    const r = await h.up({ name: "a", zone: "z2" });
    expect(r).toMatchObject({ op: "replace", id: "t-2" });
    expect(h.calls).toEqual(["check", "diff", "check", "create", "delete"]);
    expect([...cbd.live.keys()]).toEqual(["t-2"]);

    await h.up({ name: "a", zone: "z3" }, { deferDelete: true });
    expect([...cbd.live.keys()]).toEqual(["t-2", "t-3"]);
    expect(h.pendingDeletes.map((p) => p.id)).toEqual(["t-2"]);
    await h.deletePending();
    expect([...cbd.live.keys()]).toEqual(["t-3"]);

    const dbr = thingProvider({ deleteBeforeReplace: true });
    const d = new EngineLifecycle<Inputs>(dbr.provider);
    await d.up({ name: "a", zone: "z1" });
    d.calls.length = 0;
    await d.up({ name: "a", zone: "z2" });
    expect(d.calls).toEqual(["check", "diff", "check", "delete", "create"]);
  });

  test("refresh drops a resource deleted outside; the next up creates it; destroy deletes what state holds", async () => {
    const { provider, live } = thingProvider();
    const h = new EngineLifecycle<Inputs>(provider);
    await h.up({ name: "a", zone: "z1" });
    expect(await h.refresh()).toEqual({ gone: false });
    live.clear();
    expect(await h.refresh()).toEqual({ gone: true });
    expect(h.state).toBeUndefined();
    expect((await h.up({ name: "a", zone: "z1" })).op).toBe("create");
    await h.destroy();
    expect(h.state).toBeUndefined();
    expect(live.size).toBe(0);
  });

  test("what the real engine would break on: update without outs loses outputs; undefined outputs fail; check failures stop", async () => {
    const noOuts = new EngineLifecycle<Inputs>(thingProvider({ updateOuts: false }).provider);
    await noOuts.up({ name: "a", zone: "z1", size: 1 });
    expect((await noOuts.up({ name: "a", zone: "z1", size: 2 })).outs).toEqual({});

    const undef = new EngineLifecycle<Inputs>(thingProvider({ undefinedOut: true }).provider);
    await expect(undef.up({ name: "a" })).rejects.toThrow(/cannot carry this value.*"extra":"<undefined>"/);

    const h = new EngineLifecycle<Inputs>(thingProvider().provider);
    await expect(h.up({ name: "a", size: -1 })).rejects.toThrow(/check failed: size: negative/);
  });

  test("protect refuses replacement and destroy; retainOnDelete never calls delete", async () => {
    const p = thingProvider();
    const prot = new EngineLifecycle<Inputs>(p.provider, { protect: true });
    await prot.up({ name: "a", zone: "z1" });
    await expect(prot.preview({ name: "a", zone: "z2" })).rejects.toThrow(/marked for protection/);
    await expect(prot.up({ name: "a", zone: "z2" })).rejects.toThrow(/marked for protection/);
    await expect(prot.destroy()).rejects.toThrow(/protected/);
    expect([...p.live.keys()]).toEqual(["t-1"]);

    const r = thingProvider();
    const retained = new EngineLifecycle<Inputs>(r.provider, { retainOnDelete: true });
    await retained.up({ name: "a", zone: "z1" });
    await retained.destroy();
    expect(retained.state).toBeUndefined();
    expect(r.live.size).toBe(1);
    expect(retained.calls).not.toContain("delete");
  });
});
