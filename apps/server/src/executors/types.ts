import type { ClaimedRun } from "../store/runs.js";

export interface ExecContext {
  /** Aborted when a cancel is requested, the lease is lost, or the replica shuts down. */
  signal: AbortSignal;
  /** The executing replica (named in the target's application_name). */
  replicaId: string;
  /** Appends a log entry to the run (fenced: a no-op once this replica lost the run). */
  log(type: string, payload: Record<string, unknown>): Promise<void>;
  /** End older epochs' target sessions before applying (off only in the chaos harness's broken build). */
  fenceTarget: boolean;
  /** Checked right before a target commit: false when this replica no longer owns the run. */
  stillOwner(): Promise<boolean>;
}

export interface ExecOutcome {
  /**
   * RETRY: the target connection was lost before anything could commit (a restart, a session ended
   * while its owner was slow): the run goes back to AVAILABLE when re-running is safe, else FAILED.
   */
  status: "DONE" | "FAILED" | "CANCELED" | "RETRY";
  result: Record<string, unknown>;
  message: string;
}

export interface Executor {
  execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome>;
}
