/**
 * R2: the stack's buckets (`mauntic-<stack>-<bucket>`), each with its location hint and jurisdiction, a lifecycle
 * rule that aborts incomplete multipart uploads, CORS for presigned uploads from the app's origins, and the
 * public custom domain when the bucket serves one of the stack's hosts.
 *
 * - prod: every bucket and its lifecycle, CORS and custom domain are protected and retained on delete (as Neon's), so
 *   a destroy never reaches the data or the public URLs.
 * - every stack: a bucket's location and jurisdiction never change in place (the provider ignores the one and
 *   misapplies the other): a guard per bucket (r2-placement.ts), which the bucket depends on, refuses such a change
 *   in its `check`, before any call, saying what to do instead.
 * - a preview `pr-<N>`: a `command:local:Command` per bucket whose delete step empties the bucket (r2-empty.ts;
 *   R2 refuses to delete a non-empty bucket). It depends on the bucket and on its lifecycle, CORS and domain, so a
 *   destroy runs it first (the engine deletes dependents before what they depend on): if emptying fails, nothing of
 *   the bucket is gone yet and the destroy can be rerun.
 */
import * as command from "@pulumi/command";
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { cloudName, parseStackName } from "../naming";
import { R2_EMPTY_ENV } from "./r2-empty";
import { R2BucketPlacement } from "./r2-placement";

/** The emptier's delete step: the project's own CLI, run from the project folder as the post-deploy step is. */
export const R2_EMPTY_COMMAND = "./node_modules/.bin/tsx infra/cli/main.ts r2-empty";

export interface AssetBucketsArgs {
  stack: string;
  /** Cloudflare account that owns the buckets (`cloudflare.accountId`). */
  accountId: string;
  /** Zone of the public custom domains (`cloudflare.zone.zoneId`). */
  zoneId: string;
  /** The stack's hostnames (`cloudflare.hosts`), for `publicHost`. */
  hosts: StackConfig["cloudflare"]["hosts"];
  /** `r2`: location hint, jurisdiction and buckets. */
  r2: StackConfig["r2"];
}

export interface BucketEntry {
  bucketName: pulumi.Output<string>;
  /** Omitted for the default jurisdiction, as wrangler expects. */
  jurisdiction?: "eu" | "fedramp";
  boundTo: string[];
  publicDomain?: string;
}

/** Browser uploads with presigned URLs: single PUT, or multipart (POST create/complete, PUT parts, ETag read back). */
export const UPLOAD_CORS = {
  methods: ["GET", "HEAD", "PUT", "POST"],
  headers: ["content-type", "content-md5"],
  exposeHeaders: ["ETag"],
  maxAgeSeconds: 3600,
} as const;

const SECONDS_PER_DAY = 86400;

export class AssetBuckets extends pulumi.ComponentResource {
  readonly buckets: Record<string, BucketEntry>;

  constructor(name: string, args: AssetBucketsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mauntic:cloudflare:AssetBuckets", name, {}, opts);
    const { jurisdiction, locationHint } = args.r2;
    const { kind } = parseStackName(args.stack);
    const child: pulumi.CustomResourceOptions = {
      parent: this,
      ...(kind === "prod" ? { protect: true, retainOnDelete: true } : {}),
    };
    // A token set with `pulumi config set --secret cloudflare:apiToken` reaches the emptier as a secret; without
    // one, the command inherits CLOUDFLARE_API_TOKEN from the environment of `pulumi destroy`.
    const token = kind === "preview" ? new pulumi.Config("cloudflare").getSecret("apiToken") : undefined;
    this.buckets = {};
    for (const [b, spec] of Object.entries(args.r2.buckets)) {
      const bucketName = cloudName(args.stack, "r2", b);
      const placement = new R2BucketPlacement(
        `${bucketName}-placement`,
        { bucketName, location: locationHint, jurisdiction },
        child,
      );
      const bucket = new cloudflare.R2Bucket(
        bucketName,
        { accountId: args.accountId, name: bucketName, location: locationHint, jurisdiction },
        { ...child, dependsOn: [placement] },
      );
      const attached: pulumi.Resource[] = [];
      const onBucket = { accountId: args.accountId, bucketName: bucket.name, jurisdiction };
      const lifecycle = new cloudflare.R2BucketLifecycle(
        `${bucketName}-lifecycle`,
        {
          ...onBucket,
          rules: [
            {
              id: "abort-incomplete-multipart-uploads",
              enabled: true,
              conditions: { prefix: "" },
              abortMultipartUploadsTransition: {
                condition: { type: "Age", maxAge: spec.abortIncompleteUploadsAfterDays * SECONDS_PER_DAY },
              },
            },
          ],
        },
        child,
      );
      attached.push(lifecycle);
      if (spec.corsOrigins.length > 0) {
        const cors = new cloudflare.R2BucketCors(
          `${bucketName}-cors`,
          {
            ...onBucket,
            rules: [
              {
                id: "uploads-from-app",
                allowed: {
                  origins: [...spec.corsOrigins],
                  methods: [...UPLOAD_CORS.methods],
                  headers: [...UPLOAD_CORS.headers],
                },
                exposeHeaders: [...UPLOAD_CORS.exposeHeaders],
                maxAgeSeconds: UPLOAD_CORS.maxAgeSeconds,
              },
            ],
          },
          child,
        );
        attached.push(cors);
      }
      const publicDomain = spec.publicHost ? args.hosts[spec.publicHost] : undefined;
      if (publicDomain) {
        const domain = new cloudflare.R2CustomDomain(
          `${bucketName}-domain`,
          { ...onBucket, domain: publicDomain, zoneId: args.zoneId, enabled: true, minTls: "1.2" },
          child,
        );
        attached.push(domain);
      }
      if (kind === "preview") {
        new command.local.Command(
          `${bucketName}-empty`,
          {
            // Nothing to do on create or update; the delete step runs when the bucket is about to be deleted.
            delete: R2_EMPTY_COMMAND,
            environment: {
              [R2_EMPTY_ENV.stack]: args.stack,
              [R2_EMPTY_ENV.accountId]: args.accountId,
              [R2_EMPTY_ENV.bucket]: bucket.name,
              [R2_EMPTY_ENV.jurisdiction]: jurisdiction,
              FORCE_COLOR: "0",
              ...(token ? { CLOUDFLARE_API_TOKEN: token } : {}),
            },
            addPreviousOutputInEnv: false,
          },
          { parent: this, dependsOn: attached },
        );
      }
      this.buckets[b] = {
        bucketName: bucket.name,
        ...(jurisdiction !== "default" ? { jurisdiction } : {}),
        boundTo: [...spec.boundTo],
        ...(publicDomain ? { publicDomain } : {}),
      };
    }
    this.registerOutputs({
      buckets: Object.fromEntries(Object.entries(this.buckets).map(([k, v]) => [k, v.bucketName])),
    });
  }
}
