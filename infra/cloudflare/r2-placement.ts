/**
 * A guard on where an R2 bucket lives: a dynamic resource per bucket, which the bucket depends on, whose `check`
 * refuses a change of the bucket's location hint or jurisdiction, so the deployment stops before any call. The
 * provider would not do what the config says:
 * - `location`: its plan modifier keeps the location in state whatever the config says ("Location of a bucket
 *   cannot be changed after it is already created", internal/services/r2_bucket/plan_modifiers.go and the schema's
 *   `locationIgnorePlanModifier`; the schema: location "is only honored the first time a bucket with a given name is
 *   created"), so a change silently never happens;
 * - `jurisdiction`: not a replacement (no `RequiresReplace` in internal/services/r2_bucket/schema.go): the update
 *   sends the new `cf-r2-jurisdiction` header to a bucket that does not exist in that jurisdiction (resource.go,
 *   `Update`). (cloudflare/terraform-provider-cloudflare v5, which @pulumi/cloudflare 6 bridges.)
 * Moving data between places is a new bucket, never an edit. Kept free of other imports but types and diff.ts:
 * Pulumi's closure serializer captures the provider.
 */
import * as pulumi from "@pulumi/pulumi";
import { diffOf } from "../dynamic/diff";

export const R2_PLACEMENT_MODULE = "cloudflare";
export const R2_PLACEMENT_TYPE = `pulumi-nodejs:dynamic/${R2_PLACEMENT_MODULE}:R2BucketPlacement`;

export interface R2PlacementInputs {
  bucketName: string;
  /** `r2.locationHint`. */
  location: string;
  /** `r2.jurisdiction` (`default`, `eu`, `fedramp`). */
  jurisdiction: string;
}

const FIELDS = ["location", "jurisdiction"] as const;
const CONFIG_PATH = { location: "r2.locationHint", jurisdiction: "r2.jurisdiction" } as const;

/** The refusals for a change of place (none on create, or while the place stays). */
export function placementFailures(
  olds: Partial<R2PlacementInputs> | undefined,
  news: R2PlacementInputs,
): pulumi.dynamic.CheckFailure[] {
  if (!olds || olds.bucketName !== news.bucketName) return [];
  return FIELDS.filter((f) => olds[f] !== undefined && olds[f] !== news[f]).map((f) => ({
    property: f,
    reason:
      `${CONFIG_PATH[f]}: bucket ${news.bucketName} is in ${f} '${olds[f]}'; '${news[f]}' cannot be applied to it ` +
      `(the provider ${f === "location" ? "ignores a location change" : "would send the change to a bucket that does not exist there"}). ` +
      `Allowed: '${olds[f]}'. To move the data: add a bucket under a new name in the new ${f}, copy the objects ` +
      `(R2 Super Slurper, or rclone over the S3 API), bind the workers to it, then remove the old bucket.`,
  }));
}

export const r2PlacementProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<R2PlacementInputs> | undefined, news: R2PlacementInputs) {
    return { inputs: news, failures: placementFailures(olds, news) };
  },
  async diff(_id: string, olds: R2PlacementInputs, news: R2PlacementInputs) {
    return diffOf({ ...olds }, { ...news }, [], ["bucketName", ...FIELDS]);
  },
  async create(inputs: R2PlacementInputs) {
    return { id: `${inputs.jurisdiction}/${inputs.bucketName}`, outs: inputs };
  },
  async update(_id: string, _olds: R2PlacementInputs, news: R2PlacementInputs) {
    return { outs: news };
  },
};

type Args<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export class R2BucketPlacement extends pulumi.dynamic.Resource {
  constructor(name: string, args: Args<R2PlacementInputs>, opts?: pulumi.CustomResourceOptions) {
    super(r2PlacementProvider, name, args, opts, R2_PLACEMENT_MODULE, "R2BucketPlacement");
  }
}
