/**
 * R2: the stack's buckets (`mauntic-<stack>-<bucket>`), each with its location hint and jurisdiction, a lifecycle
 * rule that aborts incomplete multipart uploads, CORS for presigned uploads from the app's origins, and the
 * public custom domain when the bucket serves one of the stack's hosts.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { cloudName } from "../naming";

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
    this.buckets = {};
    for (const [b, spec] of Object.entries(args.r2.buckets)) {
      const bucketName = cloudName(args.stack, "r2", b);
      const bucket = new cloudflare.R2Bucket(
        bucketName,
        { accountId: args.accountId, name: bucketName, location: locationHint, jurisdiction },
        { parent: this },
      );
      const onBucket = { accountId: args.accountId, bucketName: bucket.name, jurisdiction };
      new cloudflare.R2BucketLifecycle(
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
        { parent: this },
      );
      if (spec.corsOrigins.length > 0) {
        new cloudflare.R2BucketCors(
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
          { parent: this },
        );
      }
      const publicDomain = spec.publicHost ? args.hosts[spec.publicHost] : undefined;
      if (publicDomain) {
        new cloudflare.R2CustomDomain(
          `${bucketName}-domain`,
          { ...onBucket, domain: publicDomain, zoneId: args.zoneId, enabled: true, minTls: "1.2" },
          { parent: this },
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
