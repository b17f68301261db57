import { setTimeout as sleep } from "node:timers/promises";

/** Polls `fn` every 50 ms until it gives a value; waits on what the test watches rather than on a fixed sleep. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}
