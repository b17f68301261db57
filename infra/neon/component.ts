/**
 * `mauntic:neon:Database`: the database every other piece points at. Prod and dev own a Neon project and adopt its
 * default branch; a preview stack `pr-<N>` owns a branch of dev's project (found through dev's stack outputs) that
 * expires on its own.
 * On it: the primary read_write endpoint, the read replica (read_only endpoint) where configured, the migrator
 * (owner) role, one login role per worker with `database`, and the platform database owned by the migrator.
 * The result is the DatabaseConnection of ./connection.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { cloudName, parseStackName, resourceName } from "../naming";
import type { DatabaseConnection, RoleCredentials } from "./connection";
import { MAX_BRANCH_TTL_SECONDS } from "./providers";
import { Branch, Database, Endpoint, Project, Role } from "./resources";
import { LoginRole } from "./login-role";
import { MIGRATOR, migratorRoleName } from "./roles";
import { poolerHost } from "./hosts";
import { postgresUri } from "./uri";
// Registers the offline engine's fake outputs for these types (inert unless the engine's mocks are active).
import "./mocks";

export const NEON_COMPONENT = "mauntic:neon:Database";
export { MIGRATOR };

export interface NeonDatabaseArgs {
  stack: string;
  config: StackConfig;
  /** For previews: the time their branch TTL counts from (tests pin it). */
  now?: Date;
}

/** `expires_at` for a preview branch: now + TTL, capped at Neon's 30 days, RFC 3339 to the second. */
export function branchExpiry(ttlHours: number, now = new Date()): string {
  const seconds = Math.min(ttlHours * 3600, MAX_BRANCH_TTL_SECONDS);
  return new Date(now.getTime() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A compute's config (primary or replica) in Neon's field names. */
const computeSettings = (c: StackConfig["neon"]["primary"]) => ({
  autoscaling_limit_min_cu: c.minCu,
  autoscaling_limit_max_cu: c.maxCu,
  suspend_timeout_seconds: c.suspendTimeoutSeconds,
});

export class NeonDatabase extends pulumi.ComponentResource {
  readonly connection: DatabaseConnection;
  /** The Neon project (a preview's is dev's). */
  readonly projectId: pulumi.Output<string>;
  /**
   * A preview's parent stack, whose `neonProjectId` it branches: a stack output, since the StackReference that
   * reads it is a read and never reaches the policy pack (policies/preview-branch-ttl.ts).
   */
  readonly parentStack?: string;
  /** The branch this stack's endpoints, roles and database live on. */
  readonly branchId: pulumi.Output<string>;

  constructor(name: string, args: NeonDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super(NEON_COMPONENT, name, {}, opts);
    const { stack, config } = args;
    const neon = config.neon;
    const { kind } = parseStackName(stack);
    // Prod's data outlives any mistake: nothing can be replaced or deleted, and a destroy leaves everything in Neon.
    // Every child, not only the project: a destroy deletes the database and roles before their project.
    const child: pulumi.CustomResourceOptions = {
      parent: this,
      ...(kind === "prod" ? { protect: true, retainOnDelete: true } : {}),
    };
    const rn = (...thing: string[]) => resourceName(stack, "neon", ...thing);

    let projectId: pulumi.Output<string>;
    let branchId: pulumi.Output<string>;
    if (kind === "preview") {
      this.parentStack = config.preview.parentStack;
      const dev = new pulumi.StackReference(config.preview.parentStack, {}, { parent: this });
      projectId = dev.requireOutput("neonProjectId") as pulumi.Output<string>;
      const branch = new Branch(
        rn("branch"),
        {
          project_id: projectId,
          name: cloudName(stack, "neon"),
          // dev's primary branch; absent from an older dev stack, Neon forks the project's default branch (the same).
          parent_id: dev.getOutput("neonBranchId") as pulumi.Output<string | undefined>,
          // Every deploy of the preview restarts its TTL.
          expires_at: branchExpiry(config.preview.branchTtlHours, args.now),
        },
        child,
      );
      // The id (= branch_id), not the output: in a preview of an update (every redeploy moves expires_at) the engine
      // keeps the id known but hands back only inputs, so an output would reach the children as unknown.
      branchId = branch.id;
    } else {
      const mainBranch = "main";
      const project = new Project(
        rn("project"),
        {
          name: cloudName(stack, "neon"),
          region_id: neon.region,
          pg_version: neon.postgresVersion,
          history_retention_seconds: neon.historyRetentionSeconds,
          default_endpoint_settings: computeSettings(neon.primary),
          // Neon's defaults would be neondb / neondb_owner: name them ours so the Role and Database adopt them.
          branch: {
            name: mainBranch,
            role_name: cloudName(stack, "pgRole", MIGRATOR),
            database_name: neon.databaseName,
          },
          // A personal API key must name the organization (neon.orgId); an organization key implies it.
          ...(neon.orgId ? { org_id: neon.orgId } : {}),
        },
        child,
      );
      // Ids, not outputs: in a preview of the project's update (a retention change) the engine keeps the id known
      // (step.go UpdateStep.Apply) but hands back only inputs, so `project_id` / `default_branch_id` would reach the
      // children as unknown and preview them as updates. The default branch, made with the project, is adopted as a
      // Branch for the same reason: its id stays known while the project updates.
      projectId = project.id;
      const main = new Branch(rn("branch"), { project_id: projectId, name: mainBranch, default: true }, child);
      branchId = main.id;
    }

    const onBranch = { project_id: projectId, branch_id: branchId };
    const endpoint = (
      which: "primary" | "replica",
      type: "read_write" | "read_only",
      c: StackConfig["neon"]["primary"],
    ) =>
      new Endpoint(
        rn(which),
        {
          ...onBranch,
          type,
          name: cloudName(stack, "neon", which),
          region_id: neon.region,
          ...computeSettings(c),
        },
        child,
      );
    const primary = endpoint("primary", "read_write", neon.primary);
    // previewOverrides turns the replica off for pr-<N> stacks.
    const replica = neon.replica.enabled ? endpoint("replica", "read_only", neon.replica) : undefined;

    const credentials = (r: { name: pulumi.Output<string>; password: pulumi.Output<string> }): RoleCredentials => ({
      user: r.name,
      password: pulumi.secret(r.password),
    });

    // A preview connects as dev's migrator name with a password of its own on its branch (./roles.ts says why).
    const migrator = new Role(rn("role", MIGRATOR), { ...onBranch, name: migratorRoleName(stack, config) }, child);
    const database = new Database(
      rn("database"),
      { ...onBranch, name: neon.databaseName, owner_name: migrator.name },
      child,
    );

    const directHost = primary.host;
    const pooledHost = primary.host.apply(poolerHost);
    const replicaHost = replica?.host;
    const owner = credentials(migrator);
    const directUri = postgresUri(owner, directHost, database.name);

    // Worker roles are made with SQL by the migrator (./login-role.ts): a role made through Neon's API would be a
    // neon_superuser member, reading and writing every table whatever its grants say.
    const workers: Record<string, RoleCredentials> = {};
    for (const [worker, spec] of Object.entries(config.workers)) {
      if (!spec.database) continue;
      if (worker === MIGRATOR) {
        throw new Error(`worker name '${worker}' is taken by the migrator role (allowed: any other worker name)`);
      }
      const login = new LoginRole(
        rn("role", worker),
        {
          admin_uri: directUri,
          name: cloudName(stack, "pgRole", worker),
          password_version: spec.database.passwordVersion,
        },
        child,
      );
      workers[worker] = credentials(login);
    }
    // URIs name the database resource's output, so whatever consumes them waits for the database to exist.
    this.connection = {
      databaseName: neon.databaseName,
      port: 5432,
      directHost,
      pooledHost,
      ...(replicaHost ? { replicaHost, replicaUri: postgresUri(owner, replicaHost, database.name) } : {}),
      directUri,
      pooledUri: postgresUri(owner, pooledHost, database.name),
      migrator: owner,
      workers,
    };
    this.projectId = projectId;
    this.branchId = branchId;
    this.registerOutputs({
      projectId,
      branchId,
      directHost,
      pooledHost,
      replicaHost,
      directUri: this.connection.directUri,
      pooledUri: this.connection.pooledUri,
      replicaUri: this.connection.replicaUri,
    });
  }

  /**
   * Stack outputs: dev and prod export `neonProjectId` and `neonBranchId` (preview stacks read them), hosts in
   * clear for policy checks, URIs secret.
   */
  stackOutputs(): Record<string, unknown> {
    const c = this.connection;
    return {
      neonProjectId: this.projectId,
      neonBranchId: this.branchId,
      ...(this.parentStack ? { neonParentStack: this.parentStack } : {}),
      databaseName: c.databaseName,
      databaseDirectHost: c.directHost,
      databasePooledHost: c.pooledHost,
      ...(c.replicaHost ? { databaseReplicaHost: c.replicaHost } : {}),
      databaseDirectUri: c.directUri,
      databasePooledUri: c.pooledUri,
      ...(c.replicaUri ? { databaseReplicaUri: c.replicaUri } : {}),
    };
  }
}
