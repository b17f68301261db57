/**
 * The Fly dynamic resources: type tokens `pulumi-nodejs:dynamic/fly:<Kind>`, inputs as in ./providers/shared.ts (the
 * Machines API's field names). Output properties are `declare`d: a class field would overwrite the values the base
 * constructor sets.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  appProvider,
  machineProvider,
  secretsProvider,
  volumeProvider,
  type AppInputs,
  type MachineConfig,
  type MachineInputs,
  type SecretsInputs,
  type VolumeInputs,
} from "./providers";

export const FLY_MODULE = "fly";
export type FlyKind = "App" | "Volume" | "Machine" | "Secrets";
/** `pulumi-nodejs:dynamic/fly:<kind>`: what plans, policies and mocks match on. */
export const flyType = (kind: FlyKind) => `pulumi-nodejs:dynamic/${FLY_MODULE}:${kind}`;

type Args<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export class App extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly app_id: pulumi.Output<string>;

  constructor(name: string, args: Args<AppInputs>, opts?: pulumi.CustomResourceOptions) {
    super(appProvider, name, { ...args, app_id: undefined }, opts, FLY_MODULE, "App");
  }
}

export class Volume extends pulumi.dynamic.Resource {
  declare readonly volume_id: pulumi.Output<string>;
  declare readonly size_gb: pulumi.Output<number>;

  constructor(name: string, args: Args<VolumeInputs>, opts?: pulumi.CustomResourceOptions) {
    super(volumeProvider, name, { ...args, volume_id: undefined }, opts, FLY_MODULE, "Volume");
  }
}

export class Machine extends pulumi.dynamic.Resource {
  declare readonly machine_id: pulumi.Output<string>;
  declare readonly version: pulumi.Output<string>;
  declare readonly private_ip: pulumi.Output<string>;

  constructor(
    name: string,
    args: Args<Omit<MachineInputs, "config">> & { config: pulumi.Input<MachineConfig> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      machineProvider,
      name,
      { ...args, machine_id: undefined, version: undefined, private_ip: undefined },
      opts,
      FLY_MODULE,
      "Machine",
    );
  }
}

export class Secrets extends pulumi.dynamic.Resource {
  /** Every value set, generated ones included: secret. */
  declare readonly values: pulumi.Output<Record<string, string>>;
  /** Fly's secrets version: machines take it as min_secrets_version, so a change rolls them. */
  declare readonly version: pulumi.Output<number>;

  constructor(
    name: string,
    args: {
      app_name: pulumi.Input<string>;
      values: pulumi.Input<Record<string, pulumi.Input<string>>>;
      generate?: string[];
    },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      secretsProvider,
      name,
      { ...args, values: pulumi.secret(args.values), version: undefined } satisfies Args<
        Omit<SecretsInputs, "values">
      > &
        Record<string, unknown>,
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["values"] }),
      FLY_MODULE,
      "Secrets",
    );
  }
}
