import type { TargetReconciler } from "../executors/types.js";
import type { Db } from "../store/db.js";
import { taskRunOwnerLost, taskRunSweep, taskRunsExpired, type ExpiredRun } from "../store/runs.js";
import type { Clock } from "./clock.js";

export interface SweepResult {
  requeued: number;
  failed: number;
  /** Applied on the target before the owner was lost: DONE. */
  applied: number;
  /** The target could not confirm: still RUNNING, holding its gate, tried again next sweep. */
  unconfirmed: number;
}

/** Expired runs settled per sweep, and at once (each waits on its own target). */
const BATCH = 50;
const PARALLEL = 8;

/**
 * Recovers runs whose owner stopped renewing its lease. No run leaves RUNNING by the sweeper's hand
 * while a session of it may still be alive on the target: for each expired run it first asks the
 * TargetReconciler to end the run's target sessions, confirm them gone and read the target's ledger —
 * outside any control-database transaction, each bounded by `reconcileTimeoutMs` — then writes what the
 * ledger says as a compare-and-set (store/transitions/sweep.ts). When the target cannot be reached the
 * run stays RUNNING, holding its gate, marked "owner lost since …", and is tried again next time.
 * Replicas may sweep side by side: reconciling twice is harmless and only one compare-and-set wins.
 */
export class Sweeper {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      replicaId: string;
      reconciler: TargetReconciler;
      /** Bound on one run's reconcile (connect, terminate, confirm, read). Default 5 s. */
      reconcileTimeoutMs?: number;
      onSweep?: (r: SweepResult) => void;
    },
  ) {}

  async runOnce(): Promise<SweepResult> {
    const { db, clock } = this.deps;
    const res: SweepResult = { requeued: 0, failed: 0, applied: 0, unconfirmed: 0 };
    const expired = await taskRunsExpired(db, { now: clock.now(), limit: BATCH });
    let next = 0;
    const worker = async () => {
      while (next < expired.length) await this.settle(expired[next++]!, res);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, expired.length) }, worker));
    if (res.requeued + res.failed + res.applied + res.unconfirmed > 0) this.deps.onSweep?.(res);
    return res;
  }

  private async settle(run: ExpiredRun, res: SweepResult): Promise<void> {
    const { db, clock, replicaId } = this.deps;
    const r = await this.deps.reconciler.reconcile(run, { timeoutMs: this.deps.reconcileTimeoutMs ?? 5000 });
    if (r.state === "unreachable") {
      await taskRunOwnerLost(db, { run, error: r.error, now: clock.now(), replicaId });
      res.unconfirmed++;
      return;
    }
    const outcome =
      r.state === "applied"
        ? { kind: "applied" as const, attempt: r.attempt, appliedAt: r.appliedAt }
        : { kind: "not_applied" as const, ...(r.leftover ? { leftover: r.leftover } : {}) };
    const status = await taskRunSweep(db, { run, outcome, now: clock.now(), replicaId });
    if (status === "DONE") res.applied++;
    else if (status === "AVAILABLE") res.requeued++;
    else if (status !== null) res.failed++;
  }
}
