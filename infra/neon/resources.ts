/**
 * The Neon dynamic resources: type tokens `pulumi-nodejs:dynamic/neon:<Kind>`, inputs as in ./providers/shared.ts.
 * Output properties are `declare`d: a class field would overwrite the values the base constructor sets.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  branchProvider,
  databaseProvider,
  endpointProvider,
  projectProvider,
  roleProvider,
  type BranchInputs,
  type ComputeSettings,
  type DatabaseInputs,
  type EndpointInputs,
  type ProjectInputs,
  type RoleInputs,
} from "./providers";

export const NEON_MODULE = "neon";
/** `pulumi-nodejs:dynamic/neon:<kind>`: what plans and mocks match on. */
export const neonType = (kind: "Project" | "Branch" | "Endpoint" | "Role" | "Database") =>
  `pulumi-nodejs:dynamic/${NEON_MODULE}:${kind}`;

type Args<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export class Project extends pulumi.dynamic.Resource {
  declare readonly project_id: pulumi.Output<string>;
  declare readonly default_branch_id: pulumi.Output<string>;
  declare readonly proxy_host: pulumi.Output<string>;

  constructor(
    name: string,
    args: Args<Omit<ProjectInputs, "default_endpoint_settings">> & {
      default_endpoint_settings: pulumi.Input<ComputeSettings>;
    },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      projectProvider,
      name,
      { ...args, project_id: undefined, default_branch_id: undefined, proxy_host: undefined },
      opts,
      NEON_MODULE,
      "Project",
    );
  }
}

export class Branch extends pulumi.dynamic.Resource {
  declare readonly branch_id: pulumi.Output<string>;
  declare readonly project_id: pulumi.Output<string>;
  declare readonly expires_at: pulumi.Output<string | undefined>;

  constructor(name: string, args: Args<BranchInputs>, opts?: pulumi.CustomResourceOptions) {
    super(branchProvider, name, { ...args, branch_id: undefined }, opts, NEON_MODULE, "Branch");
  }
}

export class Endpoint extends pulumi.dynamic.Resource {
  declare readonly endpoint_id: pulumi.Output<string>;
  declare readonly host: pulumi.Output<string>;
  declare readonly type: pulumi.Output<string>;

  constructor(name: string, args: Args<EndpointInputs>, opts?: pulumi.CustomResourceOptions) {
    super(endpointProvider, name, { ...args, endpoint_id: undefined, host: undefined }, opts, NEON_MODULE, "Endpoint");
  }
}

export class Role extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  /** Secret from the moment Neon returns it. */
  declare readonly password: pulumi.Output<string>;

  constructor(name: string, args: Args<RoleInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      roleProvider,
      name,
      { ...args, password: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["password"] }),
      NEON_MODULE,
      "Role",
    );
  }
}

export class Database extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly owner_name: pulumi.Output<string>;
  declare readonly database_id: pulumi.Output<number>;

  constructor(name: string, args: Args<DatabaseInputs>, opts?: pulumi.CustomResourceOptions) {
    super(databaseProvider, name, { ...args, database_id: undefined }, opts, NEON_MODULE, "Database");
  }
}
