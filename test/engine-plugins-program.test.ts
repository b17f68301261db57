/**
 * What the program really declares, through the stand-in Cloudflare plugin against the API stand-in: every
 * Cloudflare resource of the dev, prod and pr-42 plans (`plan --json`, inputs as registered) passes the plugin's
 * check, is accepted by the API's strict shapes, and then diffs as unchanged against its own state and refreshes to
 * the same state. This is what "a second `pulumi up` and a `pulumi refresh` change nothing" needs from the plugin
 * and the fake, proven here without the engine. The Hyperdrive origins point at a local TCP listener (the
 * PostgreSQL login is proven in engine-plugins-cloudflare-origin.test.ts).
 */
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudflareProvider } from "../engine/plugins/cloudflare/provider";
import { commandProvider } from "../engine/plugins/command/provider";
import { RESOURCES } from "../engine/plugins/cloudflare/resources";
import { secret, UNKNOWN as WIRE_UNKNOWN } from "../engine/plugins/wire";
import { SECRET, UNKNOWN, type Plan } from "../infra/offline/plan";
import { FakeCloudflareApi } from "./fakes/cloudflare-api";
import { planJson } from "./helpers/cli";

const STACKS = ["dev", "prod", "pr-42"] as const;
const plans: Partial<Record<(typeof STACKS)[number], Plan>> = {};
const fake = new FakeCloudflareApi();
let baseUrl = "";
let origin: net.Server;
let originPort = 0;

beforeAll(async () => {
  const all = await Promise.all(STACKS.map((s) => planJson(s)));
  STACKS.forEach((s, i) => (plans[s] = all[i]));
  baseUrl = await fake.start();
  origin = net.createServer((s) => s.end());
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
  originPort = (origin.address() as net.AddressInfo).port;
}, 600_000);
afterAll(async () => {
  await fake.stop();
  await new Promise((r) => origin?.close(r));
});

/** The plan's placeholders as the engine would send them: a secret stays a secret (of a stand-in value). */
function onTheWire(v: unknown, path: string): unknown {
  if (v === SECRET) return secret(`secret-of-${path}`);
  if (v === UNKNOWN) throw new Error(`${path} is unknown in the offline plan`);
  if (Array.isArray(v)) return v.map((x, i) => onTheWire(x, `${path}[${i}]`));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, onTheWire(x, `${path}.${k}`)]));
  }
  return v;
}

describe.each(STACKS)("%s: the program's Cloudflare resources through the stand-in plugin", (stack) => {
  it("every one passes check, is created as the API accepts it, then diffs as unchanged and refreshes to the same state", async () => {
    fake.reset();
    fake.originCheck = "tcp";
    const plan = plans[stack]!;
    const cf = plan.resources.filter((r) => r.custom && r.type.startsWith("cloudflare:"));
    const served = new Set(RESOURCES.map((r) => r.token));
    expect(cf.filter((r) => !served.has(r.type)).map((r) => r.type)).toEqual([]);
    // dev declares every type the plugin serves: the suite would notice a type the program stopped sending here.
    if (stack === "dev") expect(new Set(cf.map((r) => r.type))).toEqual(served);

    // The zones the resources name, each called after the domains put in it (the plan has no zone read).
    for (const r of cf) {
      const zoneId = r.inputs.zoneId as string | undefined;
      if (!zoneId || fake.zones.has(zoneId)) continue;
      const domain = cf.find((d) => d.inputs.zoneId === zoneId && typeof d.inputs.domain === "string")?.inputs
        .domain as string | undefined;
      fake.addZone(
        zoneId,
        domain ? domain.split(".").slice(-2).join(".") : "mauntic.dev",
        "business",
        r.inputs.accountId as string,
      );
    }

    const p = cloudflareProvider({ CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl });
    for (const r of cf) {
      const inputs = onTheWire(r.inputs, r.name) as Record<string, any>;
      if (r.type === "cloudflare:index/hyperdriveConfig:HyperdriveConfig") {
        inputs.origin = { ...inputs.origin, host: "127.0.0.1", port: originPort };
      }
      const checked = await p.check(r.urn, {}, inputs);
      expect(checked.failures, r.urn).toBeUndefined();
      const created = await p.create(r.urn, checked.inputs, false);
      expect(await p.diff(created.id, r.urn, created.outs, checked.inputs), r.urn).toEqual({
        changes: false,
        replaces: [],
      });
      const refreshed = await p.read(created.id, r.urn, created.outs, checked.inputs);
      expect(refreshed.props, r.urn).toEqual(created.outs);
    }
    expect(fake.violations).toEqual([]);
    // The program's Commands (post-deploy step, preview bucket emptiers) pass the command plugin's check, and a
    // preview of them runs nothing.
    const commands = plan.resources.filter((r) => r.type === "command:local:Command");
    expect(commands.length).toBeGreaterThan(0);
    const cmd = commandProvider();
    for (const r of commands) {
      const inputs = onTheWire(r.inputs, r.name);
      expect((await cmd.check(r.urn, {}, inputs)).failures, r.urn).toBeUndefined();
      expect((await cmd.create(r.urn, inputs, true)).outs.stdout).toBe(WIRE_UNKNOWN);
    }
    // One entrypoint per zone and phase: the program never declares two.
    const entrypoints = [...fake.rulesets.values()].map((rs) => `${rs.zone}/${rs.phase}`);
    expect(new Set(entrypoints).size).toBe(entrypoints.length);
  });
});
