import type { Db } from "../store/db.js";
import { replicasPrune } from "../store/replicas.js";
import type { Clock } from "./clock.js";

/** Replicas silent this long are forgotten (their runs were swept long before). */
export const PRUNE_AFTER_MS = 7 * 24 * 3600 * 1000;

/** Forgets long-gone replicas. Idempotent, so every replica may run it; no lock needed. */
export class ReplicaPruner {
  constructor(private readonly deps: { db: Db; clock: Clock; olderThanMs?: number }) {}

  async runOnce(): Promise<void> {
    await replicasPrune(this.deps.db, { now: this.deps.clock.now(), olderThanMs: this.deps.olderThanMs ?? PRUNE_AFTER_MS });
  }
}
