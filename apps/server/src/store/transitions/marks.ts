import { sql } from "kysely";

/**
 * The change marks a run transition leaves for the live pass (transitionStatement's `eff_marks`), from the
 * statement's changed runs (`ch`): the databases whose sequential run left AVAILABLE/RUNNING or was canceled
 * while PENDING (`left_active`), the versioned tasks that ended, and the rollouts where that may let a run go.
 * One row of arrays per statement in gating_dirty_batch (migration 0070), and none when there is nothing to
 * mark: a row per mark in three tables, each with its sequence value and key entry, was a quarter of a finish
 * of sequential versioned runs (0.5 of 2.2 ms for 29 runs; issue 19). The pass's lock statement takes them
 * with the three tables' (store/gating.ts).
 */
export function gateMarksInsert(can: { markGates: boolean; markDone: boolean }) {
  const dbs = can.markGates
    ? sql`(SELECT coalesce(array_agg(x.instance_id), '{}') AS i, coalesce(array_agg(x.database_name), '{}') AS n
        FROM (SELECT DISTINCT ch.instance_id, ch.database_name FROM ch WHERE ch.left_active AND ch.sequential) x)`
    : sql`(SELECT '{}'::text[] AS i, '{}'::text[] AS n)`;
  const tasks = can.markDone
    ? // DONE frees later versions; FAILED/CANCELED turns their VERSION_ORDER into BLOCKED_BY_FAILED.
      sql`(SELECT coalesce(array_agg(DISTINCT ch.task_id), '{}') AS ids FROM ch
        WHERE ch.status IN ('DONE', 'FAILED', 'CANCELED') AND ch.schema_version_key IS NOT NULL)`
    : sql`(SELECT '{}'::bigint[] AS ids)`;
  const rollouts = can.markGates
    ? // A limit can hold runs back for the rollout's sake (a limit set later marks its rollouts); a task that
      // became DONE may complete a stage, which matters only where a later stage exists (stage gate, auto-run);
      // a FAILED one may trip the project's circuit breaker. Nothing else needs a pass: marking every finish
      // woke a pass per finishing statement (issue 19).
      sql`(SELECT coalesce(array_agg(DISTINCT ch.rollout_id), '{}') AS ids FROM ch
        JOIN rollout ro ON ro.id = ch.rollout_id JOIN project p ON p.id = ro.project_id
        WHERE ch.left_active AND (p.parallel_tasks_per_rollout > 0
          OR (ch.status = 'FAILED' AND p.circuit_breaker_failures > 0)
          OR (ch.status = 'DONE' AND EXISTS (
            SELECT 1 FROM task t JOIN stage s ON s.id = t.stage_id JOIN stage l ON l.rollout_id = s.rollout_id AND l.position > s.position
            WHERE t.id = ch.task_id))))`
    : sql`(SELECT '{}'::bigint[] AS ids)`;
  return sql`
      INSERT INTO gating_dirty_batch (instance_ids, database_names, task_ids, rollout_ids)
      SELECT d.i, d.n, t.ids, r.ids FROM ${dbs} d, ${tasks} t, ${rollouts} r
      WHERE cardinality(d.i) + cardinality(t.ids) + cardinality(r.ids) > 0
      RETURNING 1`;
}
