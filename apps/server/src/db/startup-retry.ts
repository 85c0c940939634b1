import { setTimeout as delay } from "node:timers/promises";
import { isControlUnavailable } from "./unavailable.js";

/** How long a starting replica waits out an unreachable or restarting control database. */
export const STARTUP_RETRY_MS = 60_000;

/**
 * Runs one idempotent start-up step (migrations, the secret-key check, the clock's first readings, the
 * replica's registration), trying again with backoff while the control database is unreachable or
 * restarting. A replica started beside a PostgreSQL restart (a rolling restart, a failover, a host
 * coming back first) then starts when the database does instead of exiting; a deploy tool waits on
 * /readyz either way. Any other error (a wrong secret key, a failed migration) ends the start at once,
 * and so does the last unavailable error after `withinMs`: the bound a deploy tool can rely on.
 */
export async function withStartupRetry<T>(
  step: string,
  fn: () => Promise<T>,
  opts: {
    withinMs?: number;
    warn?: (msg: string) => void;
    now?: () => number;
    /** Which errors are waited out; default: the control database being unavailable. */
    retryIf?: (err: unknown) => boolean;
  } = {},
): Promise<T> {
  const now = opts.now ?? Date.now;
  const until = now() + (opts.withinMs ?? STARTUP_RETRY_MS);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(opts.retryIf ?? isControlUnavailable)(err) || now() >= until) throw err;
      const waitMs = Math.min(250 * 2 ** attempt, 5000, Math.max(until - now(), 0));
      (opts.warn ?? console.warn)(
        `runway: start-up step "${step}" could not reach the control database (${(err as Error).message}); trying again in ${waitMs} ms`,
      );
      await delay(waitMs);
    }
  }
}
