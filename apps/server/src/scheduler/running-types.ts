/** The running scheduler's types, shared with its lease keeping (leases.ts). */
import type { TaskType } from "@runway/shared";
import type { Db } from "../store/db.js";
import type { ClaimedRun } from "../store/runs.js";
import type { SlotClaim } from "../store/transitions/claim.js";
import type { ExecOutcome, Executor, TargetReconciler } from "../executors/types.js";
import type { Clock } from "./clock.js";
import type { Ownership } from "./ownership.js";

/** Free executor slots reserved for a statement that claims runs for this replica (RunningScheduler.hold). */
export interface SlotHold {
  claim: SlotClaim;
  /**
   * `claimedAt`: the process's monotonic time (performance.now) read before the `now` the claim's leases run
   * from (every claim of this replica's: its own, a finish's, a live pass's promote, the API's create); the runs'
   * first lease check rests on it. Without it their first statement sends a lease check of its own.
   */
  started(runs: ClaimedRun[], claimedAt?: number): void;
  release(): void;
}

/**
 * Executions are keyed by run and epoch: a replica may claim a run again (a new epoch) while its earlier,
 * lost execution of it is still winding down, and each must keep its own entry.
 */
export const execKey = (run: ClaimedRun) => `${run.id}/${run.epoch}`;

export interface Execution {
  run: ClaimedRun;
  abort: AbortController;
  /** Why the execution was aborted; decides what (if anything) is written afterwards. */
  abortReason?: "cancel" | "lost" | "shutdown";
  /** Its outcome went to the finisher (counted in RunningScheduler.finishing). */
  finishing?: boolean;
  /** It holds an executor slot (until then it was claimed ahead and waits for one). */
  started?: boolean;
  /**
   * The process's monotonic time (performance.now) read before the `now` its lease runs from: the claim of this
   * replica's that brought it took its lease (execContext, ownerCheckAhead).
   */
  claimedAt?: number;
  done: Promise<void>;
}

export interface RunningSchedulerDeps {
  db: Db;
  clock: Clock;
  replicaId: string;
  concurrency: number;
  /**
   * Runs claimed ahead of the free slots while the replica's runs are quick (executor-slots.ts); default 0.
   * `claimAheadQuickRunMs` (default 50): how long a quick run takes at most (the moving mean of ended runs,
   * and every run executing); a run claimed ahead still without a slot after four times that is given back.
   */
  claimAhead?: number;
  claimAheadQuickRunMs?: number;
  /** How long an outcome may wait for others to join its finish statement (finish-linger.ts); default FINISH_LINGER_MS, 0: never. */
  finishLingerMs?: number;
  leaseTtlMs: number;
  executorFor: (type: TaskType) => Executor;
  /** Default leaseOwnership (see Ownership). */
  ownership?: Ownership;
  /** How long a run whose target cannot be reached is retried before it FAILs (default 600 s). */
  targetRetryMs?: number;
  /**
   * Settles a non-re-runnable run whose session was lost mid-statement (applied or not?). Without one
   * such a run FAILs.
   */
  reconciler?: TargetReconciler;
  onClaim?: (runs: ClaimedRun[], now: Date) => void;
  onFinish?: (run: ClaimedRun, outcome: ExecOutcome, written: boolean) => void;
  onError?: (err: unknown) => void;
  /** Called when a slot frees up, so the owner can wake the claim loop. */
  onSlotFree?: () => void;
  /** False while the replica cannot heartbeat (Heartbeat.healthy): it claims nothing then. */
  mayClaim?: () => boolean;
}
