/**
 * Neon's compute limits, shared by the stack config schema and the providers' `check` (this module imports nothing:
 * the providers are serialized with what they reference, and the schema module would bring zod along).
 */

/** Compute sizes in CU: 0.25, 0.5, then whole CUs to 16, autoscaling's maximum (https://neon.com/docs/manage/computes). */
export const NEON_CU = [0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] as const;

/** "The maximum permitted autoscaling range is 8 CU" (https://neon.com/docs/guides/autoscaling-guide). */
export const MAX_AUTOSCALING_RANGE_CU = 8;
