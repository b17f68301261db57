/**
 * `mauntic:migrations:PostDeploy`: after the database exists, run the index migrations and the worker grants
 * with the project's own runner (`mauntic-infra migrate`) on the migrator's direct URI. Index builds take minutes
 * and need session locks, which no Pulumi provider offers, so a `local.Command` runs the runner from this machine.
 *
 * - Runs on every `pulumi up`: its environment carries this deployment's id (MAUNTIC_DEPLOYMENT), a changed input,
 *   so the engine updates the Command and the provider runs `update` (the same runner command). The runner is
 *   idempotent (a run with nothing to do is three queries) and converges: migrations that wait for the
 *   application's tables apply on the first deploy after the tables exist, with no manual step.
 * - Never in `pulumi preview`: the command provider runs nothing during a dry run (pulumi-command
 *   provider/pkg/provider/local/commandController.go, Create and Update: "If in preview, don't run the command").
 *   `local.run`, which runs on every program execution, would run in previews too.
 * - A new migration checksum or new grants still show as a replacement (triggers), so a preview says why.
 * - No delete command: a destroy never drops an index or revokes a grant, it only forgets the command.
 * - The URI reaches the process as an environment variable, secret in state and never on a command line.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { migrationsChecksum } from "../../migrations/runner/checksum";
import { grantsFromConfig } from "../../migrations/runner/grants-spec";
import type { StackConfig } from "../config/schema";
import { resourceName } from "../naming";
import type { DatabaseConnection } from "../neon/connection";

export const POST_DEPLOY_TYPE = "mauntic:migrations:PostDeploy";

/** The runner as the Command runs it: the project's tsx, plain summary on stdout, progress lines on stderr. */
export const MIGRATE_COMMAND = "./node_modules/.bin/tsx infra/cli/main.ts migrate";

export interface PostDeployArgs {
  stack: string;
  config: StackConfig;
  connection: DatabaseConnection;
  /** This deployment's id (default: deploymentId()). */
  deployment?: string;
}

/**
 * What makes each `pulumi up` a new input: `MAUNTIC_DEPLOYMENT_ID` when the caller sets one (CI: the workflow run),
 * else the time the program ran.
 */
export function deploymentId(env: NodeJS.ProcessEnv = process.env, now = new Date()): string {
  return env.MAUNTIC_DEPLOYMENT_ID || now.toISOString();
}

export class PostDeployMigrations extends pulumi.ComponentResource {
  /** sha256 over every migration file's name and bytes. */
  readonly checksum: string;
  readonly command: command.local.Command;

  constructor(name: string, args: PostDeployArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super(POST_DEPLOY_TYPE, name, {}, opts);
    this.checksum = migrationsChecksum();
    const grants = JSON.stringify(grantsFromConfig(args.stack, args.config));
    this.command = new command.local.Command(
      `${name}-run`,
      {
        // No `dir`: Pulumi runs commands in the project folder, and an absolute path would differ per machine.
        create: MIGRATE_COMMAND,
        update: MIGRATE_COMMAND,
        environment: {
          DATABASE_URL: pulumi.secret(args.connection.directUri),
          MAUNTIC_GRANTS: grants,
          MAUNTIC_DEPLOYMENT: args.deployment ?? deploymentId(),
          FORCE_COLOR: "0",
        },
        triggers: [this.checksum, grants],
        addPreviousOutputInEnv: false,
      },
      // The database component's dependency, explicit: the runner needs its roles and database, not only its URI.
      { parent: this, dependsOn: opts.dependsOn },
    );
    this.registerOutputs({ checksum: this.checksum, summary: this.command.stdout });
  }
}

/** The post-deploy step of a stack: pass the database component in `opts.dependsOn`. */
export function postDeployMigrations(
  stack: string,
  config: StackConfig,
  connection: DatabaseConnection,
  opts: pulumi.ComponentResourceOptions = {},
): PostDeployMigrations {
  return new PostDeployMigrations(resourceName(stack, "migrations"), { stack, config, connection }, opts);
}
