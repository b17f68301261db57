/**
 * The R2 part of the Cloudflare API stand-in, under the name the emptier's suite knows: the object and bucket calls
 * now live in test/fakes/cloudflare-api.ts with the rest of Cloudflare's API (one fake, one set of buckets).
 */
export { FakeCloudflareApi as FakeR2Api, type FakeRequest } from "./cloudflare-api";
