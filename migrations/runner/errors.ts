/** The runner's errors. Each message is one line a user can act on; the CLI maps them to exit codes. */

/** A failure the run cannot get past (exit 1). */
export class RunnerError extends Error {
  override name = "RunnerError";
}

/** A problem in a migration file or raised while applying it: the message starts with `file:line:`. */
export class MigrationError extends RunnerError {
  override name = "MigrationError";
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line?: number,
    /** The SQLSTATE of the database error behind it, if any. */
    readonly code?: string,
  ) {
    super(`${file}${line ? `:${line}` : ""}: ${reason}`);
  }
}

/** Bad input the user can fix before anything runs: a pooler URL, a malformed option (exit 2). */
export class InputError extends Error {
  override name = "InputError";
}

/** The run was stopped by Ctrl-C (exit 130): the message says what it interrupted and what a rerun does. */
export class Interrupted extends RunnerError {
  override name = "Interrupted";
}
