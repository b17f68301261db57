/**
 * Cloudflare's Hyperdrive configs per account (developers.cloudflare.com/hyperdrive/platform/limits, "Maximum
 * configs per account"): one place for the budget, the preview refusal and the policy pack (which loads no config).
 */
export const HYPERDRIVE_ACCOUNT_LIMIT = { paid: 25, free: 10 } as const;
