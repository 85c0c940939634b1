/**
 * Automatic retry of lock and serialization failures: a pure decision. A transactional run that failed
 * because it could not get a lock in time (55P03, the project's lock_timeout), was chosen as a deadlock
 * victim (40P01) or lost a serialization conflict (40001) rolled back entirely, so running it again is safe
 * and likely to succeed once the other transaction is gone. It goes back to PENDING with a backoff (the
 * same mechanism as an unreachable target, domain/retry.ts) until the project's limit is used up.
 */

/** The project's settings (project_retry_policy; these defaults when it has none). */
export interface RetryPolicy {
  /** Applied as `SET LOCAL lock_timeout` to each transactional run; 0: none. */
  lockTimeoutMs: number;
  maxAutoRetries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { lockTimeoutMs: 0, maxAutoRetries: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000 };

/** SQLSTATEs a retry can cure: lock_not_available, deadlock_detected, serialization_failure. */
export const RETRYABLE_STATES: Readonly<Record<string, string>> = {
  "55P03": "lock timeout",
  "40P01": "deadlock",
  "40001": "serialization failure",
};

/** Delay before automatic retry `attempt` (1-based): base, doubling per retry, capped. */
export function autoRetryDelayMs(policy: Pick<RetryPolicy, "backoffBaseMs" | "backoffMaxMs">, attempt: number): number {
  const exp = policy.backoffBaseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30));
  return Math.max(0, Math.min(exp, policy.backoffMaxMs));
}

export type AutoRetryDecision =
  | { kind: "retry"; until: Date; attempt: number; max: number; reason: string }
  /** Not a failure a retry can cure, a run that may not run again on its own, or the limit is used up. */
  | { kind: "fail"; note?: string };

/**
 * `now` is the control database's time (the replica's ControlClock): `until` is compared by the pending
 * scheduler on the same clock. Non-transactional runs (`transactional: false`: CREATE INDEX CONCURRENTLY,
 * VACUUM, CREATE DATABASE) are never retried automatically: part of them may have happened.
 */
export function decideAutoRetry(
  run: { transactional: boolean; autoRetries: number; policy: RetryPolicy },
  failure: { code?: string | undefined; message: string },
  now: Date,
): AutoRetryDecision {
  const what = failure.code ? RETRYABLE_STATES[failure.code] : undefined;
  if (!what || !run.transactional) return { kind: "fail" };
  const max = run.policy.maxAutoRetries;
  if (run.autoRetries >= max) {
    return max > 0 ? { kind: "fail", note: `${what}; automatic retries used up (${run.autoRetries} of ${max})` } : { kind: "fail" };
  }
  const attempt = run.autoRetries + 1;
  const until = new Date(now.getTime() + autoRetryDelayMs(run.policy, attempt));
  const reason = `${what} (${failure.code}): automatic retry ${attempt} of ${max} at ${until.toISOString()}: ${failure.message}`;
  return { kind: "retry", until, attempt, max, reason };
}
