import type { TaskType } from "@runway/shared";
import type { ClaimedRun } from "../store/runs.js";

export interface ExecContext {
  /** Aborted when a cancel is requested, the lease is lost, or the replica shuts down. */
  signal: AbortSignal;
  /** The executing replica (named in the target's application_name). */
  replicaId: string;
  /** Appends a log entry to the run (fenced: a no-op once this replica lost the run). */
  log(type: string, payload: Record<string, unknown>): Promise<void>;
  /** Checked right before a target commit: false when this replica no longer owns the run. */
  stillOwner(): Promise<boolean>;
}

export interface ExecOutcome {
  /**
   * RETRY: the target could not be reached, or the session was lost before COMMIT; nothing of this run
   * committed. result.error = { message, code? }.
   */
  status: "DONE" | "FAILED" | "CANCELED" | "RETRY";
  result: Record<string, unknown>;
  message: string;
  /**
   * True when the executor guarantees the statement never reached the target (connect failed, or failed
   * before the statement was sent).
   */
  notStarted?: boolean;
}

/** What a reconciler needs to find a run's sessions and its ledger row on the target. */
export interface RunRef { id: string; installationId: string; taskId: string; attempt: number; epoch: number; type: TaskType; connectionUrl: string; database: string; }

export type Reconciled =
  | { state: "applied"; attempt: number; appliedAt: Date }
  | { state: "not_applied" }
  | { state: "unreachable"; error: string };

/**
 * Settles a run whose owner was lost: terminates the run's target sessions, confirms they are gone, and
 * reads the target's ledger.
 */
export interface TargetReconciler { reconcile(run: RunRef, opts: { timeoutMs: number }): Promise<Reconciled>; }

export interface Executor {
  execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome>;
}
