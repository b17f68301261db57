import { Option, type Command } from "commander";
import { BucketRefusedError, emptyPreviewBucket, R2_EMPTY_ENV } from "../../cloudflare/r2-empty";
import { UsageError } from "../errors";

export function register(program: Command): void {
  program
    .command("r2-empty")
    .description("Delete every object of a PREVIEW stack's R2 bucket (run by `pulumi destroy -s pr-<N>`)")
    .addOption(new Option("--stack <pr-N>", "the preview stack that owns the bucket").env(R2_EMPTY_ENV.stack))
    .addOption(new Option("--bucket <name>", "mauntic-pr-<N>-<bucket>").env(R2_EMPTY_ENV.bucket))
    .addOption(new Option("--account-id <id>", "the Cloudflare account").env(R2_EMPTY_ENV.accountId))
    .addOption(
      new Option("--jurisdiction <j>", "the bucket's jurisdiction")
        .choices(["default", "eu", "fedramp"])
        .default("default")
        .env(R2_EMPTY_ENV.jurisdiction),
    )
    .addHelpText(
      "after",
      `
Needs CLOUDFLARE_API_TOKEN (R2 edit). CLOUDFLARE_BASE_URL overrides the API (default https://api.cloudflare.com/client/v4).
Refuses any stack but pr-<N> and any bucket not named mauntic-pr-<N>-... for that N: dev's and prod's buckets are
never emptied. A bucket that is already gone counts as empty.
Exit codes: 0 emptied, 1 the API failed, 2 refused or missing input.`,
    )
    .action(async (opts: { stack?: string; bucket?: string; accountId?: string; jurisdiction: string }) => {
      const missing = [
        ["--stack", opts.stack],
        ["--bucket", opts.bucket],
        ["--account-id", opts.accountId],
        ["CLOUDFLARE_API_TOKEN", process.env.CLOUDFLARE_API_TOKEN],
      ].filter(([, v]) => !v);
      if (missing.length) throw new UsageError(`r2-empty needs ${missing.map(([k]) => k).join(", ")}`);
      try {
        const { deleted } = await emptyPreviewBucket({
          stack: opts.stack!,
          bucket: opts.bucket!,
          accountId: opts.accountId!,
          jurisdiction: opts.jurisdiction,
          token: process.env.CLOUDFLARE_API_TOKEN!,
          baseUrl: process.env.CLOUDFLARE_BASE_URL,
          onProgress: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`${opts.bucket}: emptied (${deleted} objects deleted)\n`);
      } catch (e) {
        if (e instanceof BucketRefusedError) throw new UsageError(e.message);
        throw e;
      }
    });
}
