import { sql, type RawBuilder } from "kysely";

/**
 * The task holding a database (instance `i`, database `n`, SQL expressions): a RUNNING dry run there wins
 * (as in gatingLoadOccupancy), else the AVAILABLE or RUNNING sequential run with the lowest id — the first
 * entry of task_run_busy_id_idx. NULL when the database is free. One expression, two index probes.
 *
 * DATABASE_BUSY's recorded taskId is the holder when the wait began (a new holder is the same wait and
 * rewrites nothing: domain/gating.ts sameCause), so the API names the current holder with this, and falls
 * back on the recorded one only in the moment between a holder leaving and the next pass.
 */
export function databaseHolderSql(i: RawBuilder<unknown>, n: RawBuilder<unknown>): RawBuilder<string | null> {
  return sql<string | null>`coalesce(
    (SELECT j.task_id FROM dry_run j WHERE j.instance_id = ${i} AND j.database_name = ${n} AND j.status = 'RUNNING'
      ORDER BY j.id DESC LIMIT 1),
    (SELECT b.task_id FROM task_run b WHERE b.instance_id = ${i} AND b.database_name = ${n}
      AND b.status IN ('AVAILABLE', 'RUNNING') AND b.sequential ORDER BY b.id LIMIT 1))`;
}
