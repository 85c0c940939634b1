import { leaseFence, type OwnerFence } from "../store/runs.js";

/**
 * The rules that keep a replica that lost a run from acting on it: the SQL condition of its writes, and
 * whether a lease check's answer lets it go on (commit on the target, keep executing). Injected so the
 * chaos harness's self-test can run a replica with broken rules (chaos/src/broken-replica.ts) and prove
 * its fencing invariant notices; production always uses leaseOwnership.
 */
export interface Ownership {
  fence: OwnerFence;
  owns(check: "owned" | "lost"): boolean;
}

export const leaseOwnership: Ownership = { fence: leaseFence, owns: (check) => check === "owned" };

/**
 * The target's bound on a run's transaction sitting idle (`idle_in_transaction_session_timeout`, set by
 * the executor, never under 100 ms), from the lease: an owner frozen between its lease check and COMMIT
 * has its target session ended before its lease can run out (docs/scheduler.md).
 */
export function idleBoundMs(leaseTtlMs: number): number {
  return Math.max(100, Math.floor(leaseTtlMs * 0.75));
}

/**
 * How long a run's lease must still last for the check before its target COMMIT to confirm it by reading
 * it instead of renewing it: the idle bound (the check comes after the statement, or at most
 * ownerCheckAheadMs before it ended, and no COMMIT reaches the target later than that after the statement
 * ended) plus a twentieth of a lease for that and the clocks. A run
 * claimed or renewed moments ago has that much left, so its check writes nothing; a longer one's renews.
 */
export function ownerCheckRenewWithinMs(leaseTtlMs: number): number {
  return idleBoundMs(leaseTtlMs) + leaseTtlMs / 20;
}

/**
 * How soon after its lease check went out a statement must have returned for that check to stand for the one
 * before its COMMIT (ExecContext.ownerCheckAhead: the check sent with the statement, not after it). The check
 * confirms the lease for ownerCheckRenewWithinMs from when it reads it, which is after it went out, and the
 * COMMIT reaches the target at most the idle bound after the statement ended, or never: so a statement that
 * ended within this of the check leaves a twenty-fifth of a lease of the twentieth kept for the clocks. A
 * slower one is checked again once it returned, as before.
 */
export function ownerCheckAheadMs(leaseTtlMs: number): number {
  return leaseTtlMs / 100;
}
