import type { ClaimedRun, RunRef } from "../store/runs.js";

export interface ExecContext {
  /** Aborted when a cancel is requested, the lease is lost, or the replica shuts down. */
  signal: AbortSignal;
  /** The executing replica (named in the target's application_name). */
  replicaId: string;
  /** Appends a log entry to the run (fenced: a no-op once this replica lost the run). */
  log(type: string, payload: Record<string, unknown>): Promise<void>;
  /** Checked right before a target commit: false when this replica no longer owns the run. */
  stillOwner(): Promise<boolean>;
  /**
   * The same check pipelined with the statement: sends it now and returns the answer to ask for once the
   * statement returned, which is stillOwner's right then. The check already sent answers when the statement
   * returned soon enough after it for the lease it confirmed to outlast the COMMIT (ownerCheckAheadMs); after
   * a slower statement the returned function checks again. Without it, the executor calls stillOwner. The claim
   * that brought the run moments ago is such a check already: then none is sent (scheduler/exec-context.ts).
   */
  ownerCheckAhead?(): () => Promise<boolean>;
}

/** Run log entries are informational: failing to write one must not decide the outcome. */
export async function note(ctx: ExecContext, type: string, payload: Record<string, unknown>): Promise<void> {
  await ctx.log(type, payload).catch(() => undefined);
}

export interface ExecOutcome {
  /**
   * RETRY: the target could not be reached, or the session was lost before COMMIT (a restart, a reset or
   * silent network path, a session ended while its owner was slow, a cancel that could not be delivered);
   * nothing of this run committed. result.error = { message, code? }. Unless `notStarted`, a session of
   * the run may still be alive on the target (the server may not have noticed yet): reconcile before
   * freeing the run's gate. One exception, code COMMIT_UNKNOWN: the connection was lost during COMMIT and
   * the ledger could not be read; the commit may have gone through, and only the ledger can tell.
   */
  status: "DONE" | "FAILED" | "CANCELED" | "RETRY";
  result: Record<string, unknown>;
  message: string;
  /** True when the executor guarantees the statement never reached the target (connect failed, or failed before the statement was sent). */
  notStarted?: boolean;
}

export interface Executor {
  execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome>;
}

export type { RunRef };

export type Reconciled =
  | { state: "applied"; attempt: number; appliedAt: Date }
  /** `leftover`: what the lost session left on the target that the user must see to (an INVALID index). */
  | { state: "not_applied"; leftover?: string }
  | { state: "unreachable"; error: string };

/**
 * Decides a run whose owner is gone from the target itself: ends every session of the run there (any
 * epoch) and confirms none remains, then reads the ledger. Bounded by `timeoutMs`; `unreachable` when it
 * could not confirm.
 */
export interface TargetReconciler {
  reconcile(run: RunRef, opts: { timeoutMs: number }): Promise<Reconciled>;
}
