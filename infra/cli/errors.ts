/** Bad arguments or input that the user can fix: exit 2 with a one-line reason. */
export class UsageError extends Error {
  override name = "UsageError";
}
