/**
 * A bucket's location and jurisdiction are refused in `check` (r2-placement.ts): the provider would ignore the one and
 * send the other to a bucket that does not exist there. The guard's check runs before the bucket is touched, since
 * every bucket depends on its guard.
 */
import { describe, expect, it } from "vitest";
import { placementFailures, r2PlacementProvider, R2_PLACEMENT_TYPE } from "../infra/cloudflare/r2-placement";
import { planOf } from "../policies/testing";

const placed = { bucketName: "mauntic-dev-assets", location: "enam", jurisdiction: "default" };

describe("R2 bucket placement guard", () => {
  it("passes a first create and an unchanged place; refuses a new location or jurisdiction, saying what to do", async () => {
    expect(placementFailures(undefined, placed)).toEqual([]);
    expect(placementFailures(placed, { ...placed })).toEqual([]);
    const moved = placementFailures(placed, { ...placed, location: "weur" });
    expect(moved.map((f) => f.property)).toEqual(["location"]);
    expect(moved[0]!.reason).toContain("r2.locationHint: bucket mauntic-dev-assets is in location 'enam'; 'weur' cannot");
    expect(moved[0]!.reason).toContain("the provider ignores a location change");
    expect(moved[0]!.reason).toContain("Allowed: 'enam'. To move the data: add a bucket under a new name");
    const both = placementFailures(placed, { ...placed, location: "weur", jurisdiction: "eu" });
    expect(both.map((f) => f.property)).toEqual(["location", "jurisdiction"]);
    expect(both[1]!.reason).toContain("r2.jurisdiction: bucket mauntic-dev-assets is in jurisdiction 'default'; 'eu'");
    expect(both[1]!.reason).toContain("would send the change to a bucket that does not exist there");
    // The provider's check is what the engine calls, in preview and up alike.
    const checked = await r2PlacementProvider.check!(placed, { ...placed, jurisdiction: "fedramp" });
    expect(checked.failures?.map((f) => f.property)).toEqual(["jurisdiction"]);
    // A different bucket (a rename is a new bucket) starts over: nothing to refuse.
    expect(placementFailures(placed, { ...placed, bucketName: "mauntic-dev-assets-eu", jurisdiction: "eu" })).toEqual(
      [],
    );
  });

  for (const stack of ["dev", "prod", "pr-42"] as const) {
    it(`${stack}: every R2 bucket depends on its guard, which holds the bucket's own location and jurisdiction`, () => {
      const plan = planOf(stack);
      const buckets = plan.filter((r) => r.type === "cloudflare:index/r2Bucket:R2Bucket");
      expect(buckets.length).toBeGreaterThanOrEqual(2);
      for (const b of buckets) {
        const guard = plan.find((r) => r.type === R2_PLACEMENT_TYPE && r.name === `${b.name}-placement`);
        expect(guard, b.name).toBeDefined();
        expect(b.dependencies).toContain(guard!.urn);
        expect([guard!.inputs.bucketName, guard!.inputs.location, guard!.inputs.jurisdiction]).toEqual([
          b.inputs.name,
          b.inputs.location,
          b.inputs.jurisdiction,
        ]);
      }
    });
  }
});
