/**
 * The Pulumi program: load config -> build the platform -> export outputs. `pulumi up` and the offline engine
 * both run this default export.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfigFromEngine } from "./config/load";
import { CONFIG_NAMESPACE } from "./config/schema";
import { buildPlatform } from "./platform";

export = async (): Promise<Record<string, unknown>> => {
  const stack = pulumi.getStack();
  const config = loadStackConfigFromEngine(stack, new pulumi.Config(CONFIG_NAMESPACE));
  return buildPlatform(stack, config);
};
