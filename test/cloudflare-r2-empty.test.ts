/**
 * The preview bucket emptier against a local fake of Cloudflare's R2 API (test/fakes/cloudflare-api.ts): it empties
 * a preview's bucket so R2 lets the bucket go, survives rate limits, and refuses anything that is not a preview's
 * own bucket before a single request. The destroy order under the engine is in cloudflare-plan.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { assertPreviewBucket, BucketRefusedError, emptyPreviewBucket } from "../infra/cloudflare/r2-empty";
import { FakeCloudflareApi } from "./fakes/cloudflare-api";
import { runCli } from "./helpers/cli";

const ACCOUNT = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8";
const fake = new FakeCloudflareApi();
let baseUrl = "";

beforeAll(async () => {
  baseUrl = await fake.start();
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.buckets.clear();
  fake.requests.length = 0;
  fake.faults = [];
  fake.pageLimit = 1000;
});

const keys = (n: number, prefix = "uploads/") => Array.from({ length: n }, (_, i) => `${prefix}${i}/a b+c%.png`);
const deleteBucket = (name: string, jurisdiction = "default") =>
  fetch(`${baseUrl}/accounts/${ACCOUNT}/r2/buckets/${name}`, {
    method: "DELETE",
    headers: {
      authorization: `Bearer ${fake.token}`,
      ...(jurisdiction !== "default" ? { "cf-r2-jurisdiction": jurisdiction } : {}),
    },
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as { errors: { code: number }[] } }));

describe("emptyPreviewBucket", () => {
  it("empties a preview's bucket page by page, after which R2 lets the bucket be deleted", async () => {
    fake.addBucket("mauntic-pr-7-assets", keys(2500));
    fake.pageLimit = 700;
    // What a destroy hits without the emptier: R2 refuses a non-empty bucket.
    expect(await deleteBucket("mauntic-pr-7-assets")).toMatchObject({
      status: 409,
      body: { errors: [{ code: 10008 }] },
    });

    const progress: string[] = [];
    const r = await emptyPreviewBucket({
      stack: "pr-7",
      accountId: ACCOUNT,
      bucket: "mauntic-pr-7-assets",
      token: fake.token,
      baseUrl,
      onProgress: (l) => progress.push(l),
    });
    expect(r).toEqual({ deleted: 2500 });
    expect(fake.objects("mauntic-pr-7-assets")).toEqual([]);
    expect(progress.at(-1)).toBe("mauntic-pr-7-assets: 2500 objects deleted");
    // Documented endpoints only: "List Objects" and "Delete Object" (one key per request, its path segments encoded:
    // the keys hold spaces, '+' and '%'), besides the bucket deletes of this test.
    const shapes = fake.requests.map((q) => `${q.method} ${q.path.replace(/^.*\/r2\/buckets\/[^/]+/, "")}`);
    expect(new Set(shapes.map((x) => x.replace(/\/objects\/.+$/, "/objects/<key>")))).toEqual(
      new Set(["DELETE ", "GET /objects", "DELETE /objects/<key>"]),
    );
    expect(shapes).toContain("DELETE /objects/uploads/0/a%20b%2Bc%25.png");
    expect(shapes.filter((x) => x.startsWith("DELETE /objects/"))).toHaveLength(2500);
    expect((await deleteBucket("mauntic-pr-7-assets")).status).toBe(200);
  });

  it("keeps to the bucket's jurisdiction: an EU bucket is emptied, a same-named default one is untouched", async () => {
    fake.addBucket("mauntic-pr-7-imports", keys(3), "eu");
    fake.addBucket("mauntic-pr-7-imports", keys(2, "other/"), "default");
    const r = await emptyPreviewBucket({
      stack: "pr-7",
      accountId: ACCOUNT,
      bucket: "mauntic-pr-7-imports",
      jurisdiction: "eu",
      token: fake.token,
      baseUrl,
    });
    expect(r).toEqual({ deleted: 3 });
    expect(fake.objects("mauntic-pr-7-imports", "eu")).toEqual([]);
    expect(fake.objects("mauntic-pr-7-imports", "default")).toHaveLength(2);
    expect(new Set(fake.requests.map((q) => q.jurisdiction))).toEqual(new Set(["eu"]));
  });

  it("retries 429 and 5xx, and counts a bucket that is already gone as empty", async () => {
    fake.addBucket("mauntic-pr-7-assets", keys(5));
    fake.faults = [429, 503];
    const r = await emptyPreviewBucket({
      stack: "pr-7",
      accountId: ACCOUNT,
      bucket: "mauntic-pr-7-assets",
      token: fake.token,
      baseUrl,
    });
    expect(r).toEqual({ deleted: 5 });
    expect(fake.requests.slice(0, 3).map((q) => q.method)).toEqual(["GET", "GET", "GET"]);
    const gone = await emptyPreviewBucket({
      stack: "pr-7",
      accountId: ACCOUNT,
      bucket: "mauntic-pr-7-gone",
      token: fake.token,
      baseUrl,
    });
    expect(gone).toEqual({ deleted: 0 });
  });

  it("stops when a listing repeats the keys it just deleted, instead of looping", async () => {
    fake.addBucket("mauntic-pr-7-assets", keys(3));
    // A bucket whose deletes do not take: every key still listed after its DELETE answered.
    const stuck = new Set(keys(3));
    stuck.delete = () => false;
    fake.buckets.set("default/mauntic-pr-7-assets", stuck);
    await expect(
      emptyPreviewBucket({ stack: "pr-7", accountId: ACCOUNT, bucket: "mauntic-pr-7-assets", token: fake.token, baseUrl }),
    ).rejects.toThrow("mauntic-pr-7-assets: the same 3 objects are still listed after deleting them");
  });

  it("a wrong token fails with the API's error, deleting nothing", async () => {
    fake.addBucket("mauntic-pr-7-assets", keys(2));
    await expect(
      emptyPreviewBucket({ stack: "pr-7", accountId: ACCOUNT, bucket: "mauntic-pr-7-assets", token: "nope", baseUrl }),
    ).rejects.toThrow(/list objects of mauntic-pr-7-assets: HTTP 403 \[10000\] Authentication error/);
    expect(fake.objects("mauntic-pr-7-assets")).toHaveLength(2);
  });

  it("refuses dev's and prod's buckets, other previews' buckets and look-alikes, before any request", async () => {
    const refused: [string, string][] = [
      ["dev", "mauntic-dev-assets"],
      ["prod", "mauntic-prod-assets"],
      ["pr-7", "mauntic-dev-assets"],
      ["pr-7", "mauntic-prod-imports"],
      ["pr-7", "mauntic-pr-77-assets"],
      ["pr-7", "mauntic-pr-7-"],
      ["pr-7", "xmauntic-pr-7-assets"],
    ];
    for (const [stack, bucket] of refused) {
      fake.addBucket(bucket, keys(1));
      expect(() => assertPreviewBucket(stack, bucket)).toThrow(BucketRefusedError);
      await expect(
        emptyPreviewBucket({ stack, accountId: ACCOUNT, bucket, token: fake.token, baseUrl }),
      ).rejects.toThrow(/refusing to empty R2 bucket/);
      expect(fake.objects(bucket)).toHaveLength(1);
    }
    expect(fake.requests).toEqual([]);
    expect(() => assertPreviewBucket("pr-7", "mauntic-pr-7-assets")).not.toThrow();
  });
});

describe("mauntic-infra r2-empty", () => {
  const env = () => ({ CLOUDFLARE_API_TOKEN: fake.token, CLOUDFLARE_BASE_URL: baseUrl });

  it("a non-preview stack: exit 2 naming the rule, nothing requested, nothing deleted", async () => {
    fake.addBucket("mauntic-dev-assets", keys(4));
    const r = await runCli(["r2-empty", "--stack", "dev", "--bucket", "mauntic-dev-assets", "--account-id", ACCOUNT], {
      env: env(),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("stack 'dev' is not a preview stack");
    expect(fake.requests).toEqual([]);
    expect(fake.objects("mauntic-dev-assets")).toHaveLength(4);
  });

  it("from the variables the destroy step sets: empties the preview's bucket, exit 0", async () => {
    fake.addBucket("mauntic-pr-9-assets", keys(12));
    const r = await runCli(["r2-empty"], {
      env: {
        ...env(),
        MAUNTIC_STACK: "pr-9",
        R2_BUCKET: "mauntic-pr-9-assets",
        R2_ACCOUNT_ID: ACCOUNT,
        R2_JURISDICTION: "default",
      },
    });
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toMatchObject({
      code: 0,
      stdout: "mauntic-pr-9-assets: emptied (12 objects deleted)\n",
    });
    expect(fake.objects("mauntic-pr-9-assets")).toEqual([]);
  });

  it("no token: exit 2 saying what is missing", async () => {
    const r = await runCli(
      ["r2-empty", "--stack", "pr-9", "--bucket", "mauntic-pr-9-assets", "--account-id", ACCOUNT],
      {
        env: { CLOUDFLARE_API_TOKEN: "" },
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("r2-empty needs CLOUDFLARE_API_TOKEN");
  });
});
