import { taskRunsRenewLeases } from "../store/runs.js";
import { Batcher } from "./batcher.js";
import type { OwnerState } from "./exec-context.js";
import { ownerCheckRenewWithinMs, type Ownership } from "./ownership.js";
import type { Execution, RunningSchedulerDeps } from "./running-types.js";

type LeaseDeps = Pick<RunningSchedulerDeps, "db" | "clock" | "replicaId" | "leaseTtlMs">;

/**
 * The lease checks before target commits, batched like the finishes. A lease with most of its time left
 * is read, not renewed (ownerCheckRenewWithinMs: the COMMIT let through reaches the target before it ends).
 */
export function ownerCheckBatcher(deps: LeaseDeps): Batcher<{ runId: string; epoch: number }, OwnerState> {
  return new Batcher(async (runs) => {
    const r = await taskRunsRenewLeases(deps.db, {
      replicaId: deps.replicaId,
      runs,
      leaseTtlMs: deps.leaseTtlMs,
      now: deps.clock.now(),
      renewWithinMs: ownerCheckRenewWithinMs(deps.leaseTtlMs),
    });
    return runs.map((x) => {
      const state = r.get(x.runId);
      return state?.owned ? (state.cancelRequested ? "canceled" : "owned") : state?.locked ? "locked" : "lost";
    });
  });
}

/**
 * The heartbeat's renewal of every lease the replica executes under. An execution whose run it no longer
 * owns is aborted as lost (nothing more is written for it); a cancel flag a NOTIFY missed goes to `onCancel`.
 * A run whose row another transaction holds is left for the next renewal.
 */
export async function renewLeases(
  deps: LeaseDeps,
  ownership: Ownership,
  list: Execution[],
  onCancel: (e: Execution) => void,
): Promise<void> {
  if (list.length === 0) return;
  const status = await taskRunsRenewLeases(deps.db, {
    replicaId: deps.replicaId,
    runs: list.map((e) => ({ runId: e.run.id, epoch: e.run.epoch })),
    leaseTtlMs: deps.leaseTtlMs,
    now: deps.clock.now(),
  });
  for (const e of list) {
    const s = status.get(e.run.id);
    if (!s || e.abortReason || s.locked) continue;
    if (!ownership.owns(s.owned ? "owned" : "lost")) {
      e.abortReason = "lost";
      e.abort.abort("lease lost");
    } else if (s.cancelRequested) {
      onCancel(e);
    }
  }
}
