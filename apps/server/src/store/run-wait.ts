import { sql, type RawBuilder } from "kysely";

/**
 * The recorded cause of the run aliased `r` (a task_run row, with id and task_id): its own task_run_wait row,
 * else its stage's stage_wait row (a release control's cause, recorded once per stage: migration 0069). Two
 * primary-key probes, as the run_wait view is for a set of runs. Only meaningful while the run is PENDING.
 */
export function recordedCause(r: string): RawBuilder<unknown> {
  return sql`coalesce(
    (SELECT w.cause FROM task_run_wait w WHERE w.run_id = ${sql.ref(`${r}.id`)}),
    (SELECT sw.cause FROM task wt JOIN stage_wait sw ON sw.stage_id = wt.stage_id WHERE wt.id = ${sql.ref(`${r}.task_id`)}))`;
}
