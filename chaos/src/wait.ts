import { setTimeout as delay } from "node:timers/promises";

/**
 * Polls `check` until it returns true or the deadline passes (then throws, naming what was awaited).
 * Errors thrown by `check` end the wait at once.
 */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}
