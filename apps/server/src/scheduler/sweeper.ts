import type { Db } from "../store/db.js";
import { SWEEP_LOCK, tryXactLock } from "../store/gating.js";
import { taskRunsSweepExpired } from "../store/runs.js";
import type { Clock } from "./clock.js";

export interface SweepResult {
  requeued: number;
  failed: number;
}

/**
 * Recovers runs whose owner stopped renewing its lease. One replica sweeps at a time (advisory lock);
 * a replica never takes over a run merely because it is not in its own memory.
 */
export class Sweeper {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      replicaId: string;
      /** How long a frozen sweeper may keep the lock (see PassLock). */
      lockIdleTimeoutMs?: number;
      onSweep?: (r: SweepResult) => void;
    },
  ) {}

  /** One sweep; null when another replica holds the sweep lock. */
  async runOnce(): Promise<SweepResult | null> {
    const { db, clock, replicaId } = this.deps;
    const res = await db.transaction().execute(async (trx) => {
      if (!(await tryXactLock(trx, SWEEP_LOCK, this.deps.lockIdleTimeoutMs))) return null;
      return taskRunsSweepExpired(trx, { now: clock.now(), replicaId });
    });
    if (res && res.requeued + res.failed > 0) this.deps.onSweep?.(res);
    return res;
  }
}
