/**
 * `pulumi-resource-command <engine address>`: the stand-in command plugin (provider.ts says what it reproduces).
 * The engine starts it with the program folder as its working directory and reads the port from its first line.
 */
import { serve } from "../serve";
import { commandProvider } from "./provider";

serve(commandProvider(), process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
