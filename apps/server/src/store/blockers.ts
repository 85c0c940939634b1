import { sql } from "kysely";
import type { Db } from "./db.js";
import { databaseHolderSql } from "./holder.js";
import { recordedCause } from "./run-wait.js";

/** The task a waiting run `r` (cause `w`) names: for DATABASE_BUSY the current holder (see databaseHolderSql). */
const blockerOf = sql`CASE WHEN w.type = 'DATABASE_BUSY'
  THEN coalesce(${databaseHolderSql(sql`r.instance_id`, sql`r.database_name`)}, (w.cause ->> 'taskId')::bigint)
  ELSE (w.cause ->> 'taskId')::bigint END`;

/**
 * Root blockers: which tasks hold a rollout's waiting tasks, following chains of waiting causes that name a
 * task (VERSION_ORDER, BLOCKED_BY_FAILED, DATABASE_BUSY) to the task at the end of each chain — one that
 * waits on no other task (RUNNING, FAILED, NOT_STARTED, …). One statement.
 *
 * Two recursive walks keep it linear in the tasks involved, however long a chain of versions is: `up`
 * collects every task on a chain above the rollout's waiting tasks (UNION visits each task once), then
 * `down` hands each chain's root down to every task below it (a task waits on at most one task).
 */

export interface RootBlockerRow {
  taskId: string;
  rolloutId: string;
  status: string;
  schemaVersion: string | null;
  database: string;
  /** Latest run: when it started (RUNNING) or finished (FAILED, CANCELED). */
  runId: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /**
   * Why the root itself waits, when it is PENDING on no task (a target it cannot reach, its run-at time,
   * the parallel limit, an automatic retry's backoff): the chain's reason, shown with the summary.
   */
  waitingCause: Record<string, unknown> | null;
  /** The rollout's tasks held by this root, in all and per stage. */
  held: number;
  heldByStage: Record<string, number>;
}

export async function rolloutRootBlockers(db: Db, rolloutId: string): Promise<RootBlockerRow[]> {
  const { rows } = await sql<{
    task_id: string;
    rollout_id: string;
    status: string;
    schema_version: string | null;
    database_name: string;
    run_id: string | null;
    started_at: Date | null;
    finished_at: Date | null;
    held: number;
    by_stage: Record<string, number>;
    waiting_cause: Record<string, unknown> | null;
  }>`
    WITH RECURSIVE wait AS MATERIALIZED (
      -- Every waiting run of the rollout that names a task, then (recursively) those the named tasks wait on.
      SELECT r.task_id AS held, r.instance_id, r.database_name, w.type, (w.cause ->> 'taskId')::bigint AS named
      FROM task_run r JOIN task_run_wait w ON w.run_id = r.id
      WHERE r.rollout_id = ${rolloutId} AND r.status = 'PENDING' AND w.cause ? 'taskId'
    ), holder AS MATERIALIZED (
      -- DATABASE_BUSY records the holder when the wait began: the current one, once per database.
      SELECT d.instance_id, d.database_name, ${databaseHolderSql(sql`d.instance_id`, sql`d.database_name`)} AS task_id
      FROM (SELECT DISTINCT instance_id, database_name FROM wait WHERE type = 'DATABASE_BUSY') d
    ), edge AS MATERIALIZED (
      SELECT e.held, CASE WHEN e.type = 'DATABASE_BUSY' THEN coalesce(h.task_id, e.named) ELSE e.named END AS blocker
      FROM wait e LEFT JOIN holder h ON h.instance_id = e.instance_id AND h.database_name = e.database_name
    ), up(task_id) AS (
      SELECT blocker FROM edge
      UNION
      SELECT ${blockerOf} FROM up
      JOIN task_run r ON r.task_id = up.task_id AND r.status = 'PENDING'
      JOIN task_run_wait w ON w.run_id = r.id AND w.cause ? 'taskId'
    ), up_edge AS MATERIALIZED (
      SELECT up.task_id AS held, ${blockerOf} AS blocker FROM up
      JOIN task_run r ON r.task_id = up.task_id AND r.status = 'PENDING'
      JOIN task_run_wait w ON w.run_id = r.id AND w.cause ? 'taskId'
    ), all_edge AS (
      SELECT held, blocker FROM edge UNION SELECT held, blocker FROM up_edge
    ), down(task_id, root) AS (
      -- Roots: tasks on a chain that wait on no task. (A cycle has no root and is left out.)
      SELECT up.task_id, up.task_id FROM up WHERE NOT EXISTS (SELECT 1 FROM up_edge e WHERE e.held = up.task_id)
      UNION
      SELECT e.held, d.root FROM down d JOIN all_edge e ON e.blocker = d.task_id
    ), held AS (
      SELECT d.root, t.stage_id, count(*)::int AS n FROM down d JOIN task t ON t.id = d.task_id
      WHERE t.rollout_id = ${rolloutId} AND d.task_id <> d.root AND d.task_id IN (SELECT held FROM edge)
      GROUP BY 1, 2
    ), per_root AS (
      SELECT root, sum(n)::int AS held, jsonb_object_agg(stage_id::text, n) AS by_stage FROM held GROUP BY root
    )
    SELECT t.id::text AS task_id, t.rollout_id::text AS rollout_id, t.status, t.schema_version, t.database_name,
      lr.id::text AS run_id, lr.started_at, lr.finished_at, pr.held, pr.by_stage,
      -- PARALLEL_LIMIT is stored without its live count (it changes every tick); added as task reads add it.
      CASE WHEN w.type = 'PARALLEL_LIMIT' THEN w.cause || jsonb_build_object('active',
        (SELECT count(*)::int FROM task_run a WHERE a.rollout_id = t.rollout_id AND a.status IN ('AVAILABLE', 'RUNNING')))
      ELSE w.cause END AS waiting_cause
    FROM per_root pr JOIN task t ON t.id = pr.root
    LEFT JOIN LATERAL (SELECT id, task_id, status, started_at, finished_at FROM task_run WHERE task_id = t.id ORDER BY attempt DESC LIMIT 1) lr ON true
    LEFT JOIN LATERAL (SELECT c.cause ->> 'type' AS type, c.cause FROM (SELECT ${recordedCause("lr")} AS cause) c) w ON true
    ORDER BY pr.held DESC, t.id`.execute(db);
  return rows.map((r) => ({
    taskId: r.task_id,
    rolloutId: r.rollout_id,
    status: r.status,
    schemaVersion: r.schema_version,
    database: r.database_name,
    runId: r.run_id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    held: r.held,
    heldByStage: r.by_stage,
    waitingCause: r.waiting_cause,
  }));
}
