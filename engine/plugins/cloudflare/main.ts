/**
 * `pulumi-resource-cloudflare <engine address>`: the stand-in Cloudflare plugin (provider.ts says what it serves).
 * The engine starts it with the program folder as its working directory and reads the port from its first line.
 */
import { serve } from "../serve";
import { cloudflareProvider } from "./provider";

serve(cloudflareProvider(), process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
