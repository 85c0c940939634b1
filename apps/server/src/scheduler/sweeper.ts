import type { Db } from "../store/db.js";
import { SWEEP_LOCK, tryXactLock } from "../store/gating.js";
import { replicasPrune } from "../store/replicas.js";
import { taskRunsSweepExpired } from "../store/runs.js";
import type { Clock } from "./clock.js";

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
      /** How long a frozen sweeper may keep the lock (see tryXactLock). */
      lockIdleTimeoutMs?: number;
      onSweep?: (r: { requeued: number; failed: number }) => void;
    },
  ) {}

  async runOnce(): Promise<{ requeued: number; failed: number } | null> {
    const { db, clock, replicaId } = this.deps;
    const res = await db.transaction().execute(async (trx) => {
      if (!(await tryXactLock(trx, SWEEP_LOCK, this.deps.lockIdleTimeoutMs))) return null;
      const now = clock.now();
      const r = await taskRunsSweepExpired(trx, { now, replicaId });
      await replicasPrune(trx, { now, olderThanMs: 7 * 24 * 3600 * 1000 });
      return r;
    });
    if (res && res.requeued + res.failed > 0) this.deps.onSweep?.(res);
    return res;
  }
}
