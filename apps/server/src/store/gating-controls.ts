import { sql, type RawBuilder } from "kysely";
import { prepared, type Db } from "./db.js";
import { auditAppend } from "./audit.js";
import { rolloutPause } from "./gates.js";
import { taskRunsCreate } from "./transitions/api.js";

/**
 * What the pending scheduler's pass does for rollouts where a task finished or was skipped (the rollouts
 * it takes from gating_dirty_rollout), before it gates: trip circuit breakers and auto-run stages. Both
 * run under the pass lock; the runs they touch are marked for the next pass.
 */

export const CIRCUIT_BREAKER = "circuit-breaker";
export const AUTO_RUN = "auto-run";

/** A circuit breaker to trip: a rollout and its project's failure threshold. */
export interface BreakerToTrip {
  rolloutId: string;
  failures: number;
}

/** Auto-run's work: a rollout and the NOT_STARTED tasks of its ready stages. */
export interface AutoRunDue {
  rolloutId: string;
  taskIds: string[];
}

/**
 * The rollouts of `rids` (a bigint[] expression) not paused yet whose project has a circuit breaker and that
 * have at least that many FAILED runs finished since their last resume (task_run_rollout_failed_idx; counting
 * stops at the limit): columns id, failures. Read by gatingTripBreakers and inside the live pass's read.
 */
export const breakersDueSql = (rids: RawBuilder<unknown>) => sql<{ id: string; failures: number }>`
    SELECT ro.id, p.circuit_breaker_failures AS failures
    FROM unnest(${rids}) AS x(rid)
    JOIN rollout ro ON ro.id = x.rid JOIN project p ON p.id = ro.project_id
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM task_run r WHERE r.rollout_id = ro.id AND r.status = 'FAILED'
          AND r.finished_at > coalesce(ro.breaker_reset_at, '-infinity'::timestamptz)
        LIMIT p.circuit_breaker_failures) z
    ) f
    WHERE p.circuit_breaker_failures > 0 AND f.n >= p.circuit_breaker_failures
      AND NOT EXISTS (SELECT 1 FROM rollout_pause rp WHERE rp.rollout_id = ro.id)
    ORDER BY ro.id`;

/**
 * Auto-run's work in the rollouts of `rids` (a bigint[] expression): for each stage with an earlier stage,
 * whose environment's policy says autoRun and whose earlier stages are all DONE or SKIPPED, its NOT_STARTED
 * tasks; a paused rollout waits for its resume. Columns rollout_id, task_ids (text[]). Stages first
 * (materialized: each check is a probe of task_stage_open_idx), then their tasks: a rollout whose earlier
 * stage is still open reads none of its later stages' tasks. A subquery of its own (WITH inside), so the
 * live pass's read can hold it too.
 */
export const autoRunDueSql = (rids: RawBuilder<unknown>) => sql<{ rollout_id: string; task_ids: string[] }>`
    WITH ready AS MATERIALIZED (
      SELECT s.id, s.rollout_id
      FROM unnest(${rids}) AS x(rid)
      JOIN stage s ON s.rollout_id = x.rid
      JOIN rollout ro ON ro.id = s.rollout_id
      JOIN environment_policy ep ON ep.project_id = ro.project_id AND ep.environment = s.environment AND ep.auto_run
      WHERE s.position > (SELECT min(f.position) FROM stage f WHERE f.rollout_id = s.rollout_id)
        AND NOT EXISTS (SELECT 1 FROM rollout_pause rp WHERE rp.rollout_id = s.rollout_id)
        AND NOT EXISTS (
          SELECT 1 FROM stage e WHERE e.rollout_id = s.rollout_id AND e.position < s.position
            AND EXISTS (SELECT 1 FROM task o WHERE o.stage_id = e.id AND o.unfinished))
    )
    -- LATERAL … OFFSET 0: a probe of task_stage_idx per ready stage (a join was planned as a scan of task).
    SELECT r.rollout_id, array_agg(t.id ORDER BY t.id)::text[] AS task_ids
    FROM ready r CROSS JOIN LATERAL (SELECT t.id FROM task t WHERE t.stage_id = r.id AND t.status = 'NOT_STARTED' OFFSET 0) t
    GROUP BY r.rollout_id`;

/**
 * Pauses each rollout of `rolloutIds` whose circuit breaker is due (breakersDueSql), audited as
 * `rollout.pause` by "circuit-breaker". Returns the rollouts paused.
 */
export async function gatingTripBreakers(trx: Db, rolloutIds: string[], now: Date, replicaId: string): Promise<string[]> {
  if (rolloutIds.length === 0) return [];
  const { rows } = await prepared(breakersDueSql(sql`${rolloutIds}::bigint[]`)).execute(trx);
  return tripBreakers(
    trx,
    rows.map((r) => ({ rolloutId: r.id, failures: r.failures })),
    now,
    replicaId,
  );
}

/** Pauses the rollouts of `due` (read in this transaction), audited as `rollout.pause` by "circuit-breaker". */
async function tripBreakers(trx: Db, due: readonly BreakerToTrip[], now: Date, replicaId: string): Promise<string[]> {
  for (const r of due) {
    const reason = `${r.failures} failed runs`;
    await rolloutPause(trx, { rolloutId: r.rolloutId, by: CIRCUIT_BREAKER, reason, automatic: true, now, replicaId });
    await auditAppend(trx, {
      at: now,
      actor: CIRCUIT_BREAKER,
      action: "rollout.pause",
      target: `rollout/${r.rolloutId}`,
      outcome: "SUCCESS",
      detail: { reason, automatic: true, replica: replicaId },
      clientAddress: null,
    });
  }
  return due.map((r) => r.rolloutId);
}

/**
 * Auto-run in the rollouts of `rolloutIds` (autoRunDueSql): creates runs of the ready stages' NOT_STARTED
 * tasks (created by "auto-run"). Returns the number of runs created.
 */
export async function gatingAutoRun(trx: Db, rolloutIds: string[], now: Date): Promise<number> {
  if (rolloutIds.length === 0) return 0;
  const { rows } = await prepared(autoRunDueSql(sql`${rolloutIds}::bigint[]`)).execute(trx);
  return autoRun(
    trx,
    rows.map((r) => ({ rolloutId: r.rollout_id, taskIds: r.task_ids })),
    now,
  );
}

async function autoRun(trx: Db, due: readonly AutoRunDue[], now: Date): Promise<number> {
  let created = 0;
  for (const r of due) {
    const res = await taskRunsCreate(trx, { rolloutId: r.rolloutId, taskIds: r.taskIds, runAt: null, actor: AUTO_RUN, now, auto: true });
    created += res.filter((x) => x.run_id !== null).length;
  }
  return created;
}

/**
 * Both controls, read in one snapshot (the live pass's read): trips the breakers first, then auto-runs the
 * rollouts that are still not paused — what reading auto-run's work after the trips, as a full pass does,
 * would find. Returns how many rollouts it paused and runs it created.
 */
export async function gatingApplyControls(
  trx: Db,
  due: { breakers: readonly BreakerToTrip[]; autoRun: readonly AutoRunDue[] },
  now: Date,
  replicaId: string,
): Promise<number> {
  if (due.breakers.length === 0 && due.autoRun.length === 0) return 0;
  const tripped = new Set(await tripBreakers(trx, due.breakers, now, replicaId));
  return (
    tripped.size +
    (await autoRun(
      trx,
      due.autoRun.filter((r) => !tripped.has(r.rolloutId)),
      now,
    ))
  );
}
