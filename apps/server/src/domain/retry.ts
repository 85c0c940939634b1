/** What happens to a run whose execution ended RETRY (nothing of it committed): a pure decision. */

/** Backoff after an unreachable target: 1 s, doubling per failed attempt, capped at 60 s. */
export function retryDelayMs(failedBefore: number): number {
  return Math.min(1000 * 2 ** Math.max(0, failedBefore), 60_000);
}

/**
 * How many attempts the backoff makes inside a window: attempts start at 0, 1, 3, 7, 15 … s, and those
 * starting before `windowMs` count. The attempt after them is the first the window allows to fail.
 */
export function attemptsWithin(windowMs: number): number {
  let n = 0;
  for (let t = 0; t < windowMs; t += retryDelayMs(n - 1)) n++;
  return n;
}

export type RetryDecision =
  /** Back to PENDING until `retryAt`. */
  | { kind: "retry"; retryAt: Date; error: string }
  /** The retry window is used up. */
  | { kind: "fail"; message: string; error: { message: string; code?: string } }
  /** A non-re-runnable statement may have started: ask the target what became of it. */
  | { kind: "settle" };

export function decideRetry(
  run: { rerunnable: boolean; retrySince: Date | null; retryAttempts: number },
  outcome: { notStarted?: boolean; message: string; result: Record<string, unknown> },
  now: Date,
  windowMs: number,
): RetryDecision {
  if (!run.rerunnable && !outcome.notStarted) return { kind: "settle" };
  const err = (outcome.result.error ?? {}) as { message?: string; code?: string };
  const error = err.message ?? outcome.message;
  const since = run.retrySince ?? now;
  const elapsed = now.getTime() - since.getTime();
  // Time alone is no evidence: between two attempts a run may wait minutes on other gates (a busy
  // database, version order, the parallel limit), and one reset after that wait said the target had been
  // unreachable all along (the chaos long run failed two runs after 2 attempts in 54 s). The window is
  // used up only when the target also failed as many attempts as the backoff makes in it.
  const attempts = run.retryAttempts + 1;
  if (elapsed >= windowMs && attempts > attemptsWithin(windowMs)) {
    const message =
      `target unreachable for ${Math.round(elapsed / 1000)} s (${attempts} attempts, ` +
      `limit RUNWAY_TARGET_RETRY_S=${Math.round(windowMs / 1000)}): ${error}`;
    return { kind: "fail", message, error: { ...err, message } };
  }
  return { kind: "retry", retryAt: new Date(now.getTime() + retryDelayMs(run.retryAttempts)), error };
}
