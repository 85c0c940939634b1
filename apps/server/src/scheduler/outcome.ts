import type { Db } from "../store/db.js";
import { taskRunAutoRetry, taskRunRelease, taskRunRetry, type ClaimedRun, type Finish, type OwnerFence } from "../store/runs.js";
import type { ExecOutcome, TargetReconciler } from "../executors/types.js";
import { decideRetry } from "../domain/retry.js";
import { decideAutoRetry, DEFAULT_RETRY_POLICY } from "../domain/auto-retry.js";
import { runsOutsideTransaction } from "../domain/statements.js";
import type { Clock } from "./clock.js";

/**
 * What the running scheduler writes when an execution ends — the decision between a final status, a
 * release, a retry after an unreachable target, an automatic retry after a lock failure, and settling a
 * lost session on the target. Every write is a fenced transition (store/transitions/owner.ts); final
 * statuses go through the caller's `finish`, which batches them with the claims of the slots they free.
 */
export interface OutcomeDeps {
  db: Db;
  clock: Clock;
  replicaId: string;
  /** How long a run whose target cannot be reached is retried before it FAILs (default 600 s). */
  targetRetryMs?: number;
  /** Settles a non-re-runnable run whose session was lost mid-statement; without one such a run FAILs. */
  reconciler?: TargetReconciler;
}

export interface Ended {
  run: ClaimedRun;
  /** Why the execution was aborted, if it was. */
  abortReason?: "cancel" | "lost" | "shutdown";
  fence: OwnerFence;
}

/** A final status for the finisher (owner, epoch and run id are the caller's). */
export type FinalWrite = (f: Pick<Finish, "status" | "result" | "message">) => Promise<boolean>;

/** The outcome of a run claimed ahead of a free slot and aborted before it got one (scheduler/executor-slots.ts). */
export const UNSTARTED: ExecOutcome = {
  status: "RETRY",
  result: { error: { message: "aborted before it started" } },
  message: "aborted before it started",
  notStarted: true,
};

/** Writes an execution's outcome; false when the fence refused it (the run is no longer this owner's). */
export async function writeOutcome(d: OutcomeDeps, e: Ended, outcome: ExecOutcome, finish: FinalWrite): Promise<boolean> {
  const { run } = e;
  const fence = { runId: run.id, replicaId: d.replicaId, epoch: run.epoch, fence: e.fence };
  const now = d.clock.now();
  if (e.abortReason === "shutdown" && outcome.status !== "DONE") {
    // A run that never started (claimed ahead of a slot, or stopped before its statement was sent) goes
    // back whether or not it is re-runnable: nothing of it ran.
    if (outcome.notStarted) return releaseUnstarted(d, e, "replica shut down before the run started", "release");
    return taskRunRelease(d.db, { ...fence, now, reason: "replica shut down while the run was executing" });
  }
  if (outcome.status === "RETRY" && e.abortReason !== "cancel") return writeRetry(d, e, outcome, finish);
  let message = outcome.message;
  if (outcome.status === "FAILED" && !e.abortReason) {
    const retried = await writeAutoRetry(d, e, outcome);
    if (typeof retried === "boolean") return retried;
    if (retried.note) message = `${message} (${retried.note})`;
  }
  const status =
    e.abortReason === "cancel" && outcome.status !== "DONE" ? "CANCELED" : outcome.status === "RETRY" ? "FAILED" : outcome.status;
  return finish({ status, result: outcome.result, message });
}

/**
 * A run that never started goes back AVAILABLE whether or not it is re-runnable (CANCELED if a cancel was
 * recorded): `release` by a draining replica, `requeue` by an owner giving back a run it claimed ahead.
 */
export function releaseUnstarted(d: OutcomeDeps, e: Ended, reason: string, transition: "release" | "requeue"): Promise<boolean> {
  const { run } = e;
  const fence = { runId: run.id, replicaId: d.replicaId, epoch: run.epoch, fence: e.fence };
  return taskRunRelease(d.db, { ...fence, now: d.clock.now(), reason, transition, started: false });
}

/**
 * RETRY: nothing of the run committed. A run that may go again (re-runnable, or its statement never
 * reached the target) goes back to PENDING with a backoff, until the retry window is used up — then it
 * FAILs saying so. A non-re-runnable statement that may have started is settled on the target first
 * (the reconciler): applied → DONE, not applied → FAILED, target unreachable → left to the sweeper.
 */
async function writeRetry(d: OutcomeDeps, e: Ended, outcome: ExecOutcome, finish: FinalWrite): Promise<boolean> {
  const { run } = e;
  const fence = { runId: run.id, replicaId: d.replicaId, epoch: run.epoch, fence: e.fence };
  const now = d.clock.now();
  const r0 = decideRetry(run, outcome, now, d.targetRetryMs ?? 600_000);
  if (r0.kind === "fail") return finish({ status: "FAILED", result: { error: r0.error }, message: r0.message });
  if (r0.kind === "retry") return taskRunRetry(d.db, { ...fence, now, retryAt: r0.retryAt, error: r0.error });
  if (!d.reconciler) return finish({ status: "FAILED", result: outcome.result, message: outcome.message });
  const r = await d.reconciler.reconcile(run, { timeoutMs: 5000 });
  if (r.state === "applied") {
    const message = `applied by attempt ${r.attempt} at ${r.appliedAt.toISOString()} (confirmed on the target after the session was lost)`;
    return finish({ status: "DONE", result: { alreadyApplied: true, appliedAt: r.appliedAt.toISOString() }, message });
  }
  if (r.state === "not_applied") {
    const message = `${outcome.message}; not applied on the target${r.leftover ? `; ${r.leftover}` : ""}`;
    return finish({ status: "FAILED", result: withLeftover(outcome.result, r.leftover), message });
  }
  return false; // unreachable: stop renewing; once the lease runs out the sweeper settles it
}

/**
 * A lock timeout, deadlock or serialization failure of a transactional run (all rolled back): back to
 * PENDING after a backoff, while the project's limit allows (domain/auto-retry.ts). Otherwise (not such
 * a failure, or the limit is used up) the run FAILs as usual, with `note` added to its message.
 */
async function writeAutoRetry(d: OutcomeDeps, e: Ended, outcome: ExecOutcome): Promise<boolean | { note?: string }> {
  const { run } = e;
  const err = (outcome.result.error ?? {}) as { message?: string; code?: string };
  const now = d.clock.now();
  const decision = decideAutoRetry(
    {
      transactional: !runsOutsideTransaction(run),
      autoRetries: run.autoRetries ?? 0,
      policy: run.retryPolicy ?? DEFAULT_RETRY_POLICY,
    },
    { code: err.code, message: err.message ?? outcome.message },
    now,
  );
  if (decision.kind === "fail") return decision.note ? { note: decision.note } : {};
  return taskRunAutoRetry(d.db, {
    runId: run.id,
    replicaId: d.replicaId,
    epoch: run.epoch,
    fence: e.fence,
    now,
    until: decision.until,
    attempt: decision.attempt,
    max: decision.max,
    reason: decision.reason,
    result: outcome.result,
  });
}

/** The run's error message also says what the lost session left on the target (the drawer shows that message). */
function withLeftover(result: Record<string, unknown>, leftover: string | undefined): Record<string, unknown> {
  const error = result.error as { message?: string } | undefined;
  if (!leftover || !error) return result;
  return { ...result, error: { ...error, message: `${error.message ?? ""}; ${leftover}` } };
}
