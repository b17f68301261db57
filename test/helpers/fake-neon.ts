/**
 * The fake Neon API started for one test and the Neon client pointed at it, as the Neon suites share it.
 */
import { expect } from "vitest";
import { configureNeonClient, setConfiguredApiKey, type NeonClientOptions } from "../../infra/neon/client";
import { FakeNeon } from "../fakes/neon";

/** Fast clocks for the fake: operations take tens of ms, so polls and backoffs are a few ms. */
export const NEON_FAST_CLOCKS = {
  requestTimeoutMs: 400,
  retryBudgetMs: 4_000,
  operationTimeoutMs: 4_000,
  pollIntervalMs: 5,
  backoffBaseMs: 5,
  backoffMaxMs: 40,
} satisfies Partial<NeonClientOptions>;

/** Starts a fake Neon that accepts `key` and configures the providers' client for it (fast clocks, `over` on top). */
export async function startFakeNeon(key: string, over: Partial<NeonClientOptions> = {}): Promise<FakeNeon> {
  const fake = new FakeNeon(key);
  configureNeonClient({ baseUrl: await fake.start(), apiKey: key, ...NEON_FAST_CLOCKS, ...over });
  return fake;
}

/** Clears the client's configuration, stops the fake and holds every request and answer to Neon's OpenAPI document. */
export async function stopFakeNeon(fake: FakeNeon): Promise<void> {
  configureNeonClient(undefined);
  setConfiguredApiKey(undefined);
  await fake.stop();
  expect(fake.specViolations).toEqual([]);
}
