import { sql, type RawBuilder } from "kysely";
import { Channel } from "./db.js";

/**
 * SQL fragments appended to a data-modifying CTE named `f` whose rows are runs that just changed status.
 * They keep task.status in step, append log entries, and record for the pending scheduler what changed —
 * all in the statement that changed the runs, so no crash can separate them.
 *
 * `f` must return: id, task_id, rollout_id, instance_id, database_name, sequential, schema_version_key,
 * status (the new one), left_active (boolean: the run was AVAILABLE/RUNNING before), message (text).
 */
export function runEffects(now: Date, replicaId: string | null): RawBuilder<unknown> {
  return sql`
    , eff_wait AS (
      DELETE FROM task_run_wait USING f WHERE task_run_wait.run_id = f.id
    ), eff_task AS (
      UPDATE task SET status = f.status, updated_at = ${now} FROM f WHERE task.id = f.task_id
    ), eff_log AS (
      INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
      SELECT f.id, ${now}, 'STATUS', ${replicaId}, jsonb_build_object('status', f.status, 'message', f.message) FROM f
    ), eff_db AS (
      INSERT INTO gating_dirty_database (instance_id, database_name)
      SELECT DISTINCT instance_id, database_name FROM f WHERE f.left_active AND f.sequential
      RETURNING 1
    ), eff_done AS (
      INSERT INTO gating_dirty_task (task_id)
      SELECT DISTINCT task_id FROM f WHERE f.status = 'DONE' AND f.schema_version_key IS NOT NULL
      RETURNING 1
    ), eff_rollout AS (
      INSERT INTO gating_dirty_rollout (rollout_id)
      SELECT DISTINCT f.rollout_id FROM f
      -- Only a limit can hold runs back for the rollout's sake (a limit set later marks its rollouts).
      JOIN rollout ro ON ro.id = f.rollout_id JOIN project p ON p.id = ro.project_id
      WHERE f.left_active AND p.parallel_tasks_per_rollout > 0
      RETURNING 1
    )`;
}

/**
 * Select-list expressions for the statement's final SELECT (after runEffects): NOTIFY the pending
 * schedulers only when the change can let a PENDING run go (something was recorded for them: a live pass
 * looks at nothing else), the running schedulers when a run became AVAILABLE, and the dashboards with
 * the rollouts touched. Inside the statement, so a finish costs one round trip; PostgreSQL delivers
 * identical notifications of one transaction once.
 */
export function runEffectsNotify(alsoChanged?: RawBuilder<unknown>): RawBuilder<unknown> {
  const changed = alsoChanged ? sql`(SELECT rollout_id FROM f UNION SELECT rollout_id FROM ${alsoChanged}) ch` : sql`f`;
  return sql`
    (SELECT count(pg_notify(${Channel.PENDING}, '')) FROM (
      SELECT 1 FROM eff_db UNION ALL SELECT 1 FROM eff_done UNION ALL SELECT 1 FROM eff_rollout LIMIT 1) x) AS notified_pending,
    (SELECT count(pg_notify(${Channel.AVAILABLE}, '')) FROM (SELECT 1 FROM f WHERE f.status = 'AVAILABLE' LIMIT 1) x) AS notified_available,
    ${notifyChangeOf(changed)} AS notified_change`;
}

/**
 * Notifies the dashboards of every rollout in `rel` (a relation with a rollout_id column): one
 * notification for up to 200 rollouts (NOTIFY payloads are limited to 8000 bytes), not one per rollout.
 */
export function notifyChangeOf(rel: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(SELECT count(pg_notify(${Channel.CHANGE}, y.payload)) FROM (
      SELECT json_build_object('rolloutIds', json_agg(x.rollout_id::text))::text AS payload
      FROM (SELECT rollout_id, (row_number() OVER (ORDER BY rollout_id) - 1) / 200 AS chunk FROM (SELECT DISTINCT rollout_id FROM ${rel}) d) x
      GROUP BY x.chunk) y)`;
}
