import type pg from "pg";
import { type Db, taskRunFinish, taskRunsClaim, tasksRun } from "@runway/server/store";

/**
 * The change a running system sees between two ticks, as bench/gating.ts makes it before each live pass:
 * `change` RUNNING runs on random databases finish and `change` new runs arrive (from the seed's reserve of
 * NOT_STARTED tasks). Returns the reserve left.
 */
export async function applyLiveChange(
  db: Db,
  pool: pg.Pool,
  p: { change: number; replicaId: string; reserve: { id: string; rollout_id: string }[] },
): Promise<{ id: string; rollout_id: string }[]> {
  const running = (
    await pool.query<{ id: string; lease_epoch: number }>(
      `SELECT id, lease_epoch FROM task_run WHERE status = 'RUNNING' ORDER BY random() LIMIT ${p.change}`,
    )
  ).rows;
  for (const r of running) {
    await taskRunFinish(db, {
      runId: r.id,
      replicaId: p.replicaId,
      epoch: r.lease_epoch,
      status: "DONE",
      result: {},
      message: "bench",
      now: new Date(),
    });
  }
  const batch = p.reserve.slice(0, p.change);
  const byRollout = new Map<string, string[]>();
  for (const t of batch) byRollout.set(t.rollout_id, [...(byRollout.get(t.rollout_id) ?? []), t.id]);
  for (const [rolloutId, taskIds] of byRollout) {
    await tasksRun(db, { rolloutId, taskIds, runAt: null, actor: "bench", now: new Date() });
  }
  return p.reserve.slice(p.change);
}

/** Claims every AVAILABLE run (as gating.ts does after each pass), so they count as RUNNING. */
export async function claimAll(db: Db, replicaId: string): Promise<number> {
  return (await taskRunsClaim(db, { replicaId, limit: 1_000_000, leaseTtlMs: 3_600_000, now: new Date() })).length;
}

export async function reserveTasks(pool: pg.Pool): Promise<{ id: string; rollout_id: string }[]> {
  return (await pool.query<{ id: string; rollout_id: string }>(`SELECT id, rollout_id FROM task WHERE status = 'NOT_STARTED' ORDER BY id`))
    .rows;
}
