import { describe, expect, it } from "vitest";
import { prodProtectStateful } from "./prod-protect-stateful";
import { extraResource, named, planOf, verdicts } from "./testing";

describe("prod-protect-stateful", () => {
  it.each(["dev", "pr-42"] as const)("is quiet on today's %s plan", async (stack) => {
    expect(await verdicts(prodProtectStateful, planOf(stack))).toEqual([]);
  });

  // Today's prod plan protects Neon; R2 and KV protection arrive with branch cloudflare (5c2715b).
  it("is quiet on prod once every stateful resource is protected, and fires on each one that is not", async () => {
    const plan = planOf("prod");
    const stateful = ["mauntic-prod-cache", "mauntic-prod-assets", "mauntic-prod-imports"];
    for (const n of stateful) named(plan, n).protect = true;
    expect(await verdicts(prodProtectStateful, plan)).toEqual([]);

    named(plan, "mauntic-prod-neon-database").protect = false;
    const volume = extraResource("prod", "pulumi-nodejs:dynamic/fly:Volume", "mauntic-prod-redis-data", {
      name: "redis_data",
    });
    const v = await verdicts(prodProtectStateful, [...plan, volume]);
    expect(v.map((x) => [x.enforcement, x.urn])).toEqual([
      ["mandatory", named(plan, "mauntic-prod-neon-database").urn],
      ["mandatory", volume.urn],
    ]);
  });
});
