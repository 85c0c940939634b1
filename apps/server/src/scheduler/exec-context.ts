import type { Db } from "../store/db.js";
import { taskRunAppendLog, type ClaimedRun } from "../store/runs.js";
import type { ExecContext } from "../executors/types.js";
import type { Clock } from "./clock.js";
import type { Ownership } from "./ownership.js";

/** A lease check's answer (the running scheduler batches them, store/runs.ts taskRunsRenewLeases). */
export type OwnerState = "owned" | "lost" | "locked" | "canceled";

/**
 * What the executor of one run is given: its abort signal, its fenced log, and the lease check before a target
 * commit, after the statement or sent with it (ownerCheckAhead).
 */
export function execContext(p: {
  db: Db;
  clock: Clock;
  replicaId: string;
  run: ClaimedRun;
  signal: AbortSignal;
  ownership: Ownership;
  /** True once the execution was aborted (cancel, lost, shutdown): no commit then. */
  aborted: () => boolean;
  checkOwner: (run: { runId: string; epoch: number }) => Promise<OwnerState>;
  /** ownerCheckAheadMs of the lease: how soon after a check sent ahead the statement must return for it to stand. */
  aheadMs: number;
  /** The process's monotonic clock in ms (performance.now; injected by tests): how long the statement took. */
  monotonic?: () => number;
  /**
   * On that clock, when the statement that claimed the run was sent (RunningScheduler.hold and its finisher);
   * absent when unknown. A claim is a lease check that took the lease: see ownerCheckAhead.
   */
  claimedAt?: number;
  /** A cancel recorded in the control database, found by the lease check. */
  onCanceled: () => void;
}): ExecContext {
  const { run } = p;
  const fence = { runId: run.id, replicaId: p.replicaId, epoch: run.epoch, fence: p.ownership.fence };
  /** `dropped`: true once nobody waits for this answer any more (see ownerCheckAhead); it then asks no more. */
  const stillOwner = async (dropped?: () => boolean): Promise<boolean> => {
    // A row locked by another transaction is neither ours for sure nor lost: ask again shortly (the
    // target's idle-in-transaction bound ends the wait if it lasts).
    for (let i = 0; ; i++) {
      if (p.aborted() || dropped?.()) return false;
      const state = await p.checkOwner({ runId: run.id, epoch: run.epoch });
      if (state === "canceled") {
        // A recorded cancel wins even when its NOTIFY never came: this run must not commit now.
        p.onCanceled();
        return false;
      }
      if (state !== "locked") return p.ownership.owns(state);
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** i, 500)));
    }
  };
  return {
    signal: p.signal,
    replicaId: p.replicaId,
    log: async (type, payload) => {
      await taskRunAppendLog(p.db, { ...fence, type, payload, now: p.clock.now() });
    },
    stillOwner: () => stillOwner(),
    ownerCheckAhead: () => {
      // The process's own monotonic clock: only how long the statement took after the check went out matters,
      // and a pause of this process only makes that longer (then it checks again).
      const elapsed = p.monotonic ?? (() => performance.now());
      const claimedAt = p.claimedAt;
      // The claim that brought the run is a lease check already, and a stronger one: it took the lease, for a
      // whole lease from when it wrote it, after it was sent. So a statement back within aheadMs of the claim
      // commits on it with no check sent at all, by the argument that lets the check sent with the statement
      // stand (ownerCheckAheadMs); a claim that will likely be older by then (the run waited for a slot) is
      // not relied on, and the check goes out with the statement as below.
      if (claimedAt !== undefined && elapsed() - claimedAt <= p.aheadMs / 2) {
        return async () => {
          if (p.aborted()) return false;
          return elapsed() - claimedAt <= p.aheadMs ? true : stillOwner();
        };
      }
      const sentAt = elapsed();
      // Once its answer cannot stand (the statement came back too late), a check still asking again because the
      // run's row was locked stops: the check made after the statement decides, and one loop asking is enough.
      let dropped = false;
      // Settled here: an answer nobody asks for (the statement failed) must not be an unhandled rejection.
      const early = stillOwner(() => dropped).then(
        (owned) => ({ owned }),
        () => undefined,
      );
      return async () => {
        if (p.aborted()) return false;
        if (elapsed() - sentAt > p.aheadMs) {
          dropped = true;
          return stillOwner();
        }
        const answer = await early;
        // A check that failed (the control database unreachable meanwhile) is made again, as it was before.
        if (answer === undefined) return stillOwner();
        return answer.owned && !p.aborted();
      };
    },
  };
}
