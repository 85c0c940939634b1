import { sql, type RawBuilder } from "kysely";

/**
 * The recorded cause of the run aliased `r` (a task_run row, with id, task_id and status): its own
 * task_run_wait row, else its stage's stage_wait row (a release control's cause, recorded once per stage:
 * migration 0069), as the run_wait view gives it for a set of runs; two primary-key probes. NULL unless the
 * run is PENDING: a stage's row stays for the stage's other runs, and a run that left PENDING waits on nothing.
 */
export function recordedCause(r: string): RawBuilder<unknown> {
  return sql`CASE WHEN ${sql.ref(`${r}.status`)} = 'PENDING' THEN coalesce(
    (SELECT w.cause FROM task_run_wait w WHERE w.run_id = ${sql.ref(`${r}.id`)}),
    (SELECT sw.cause FROM task wt JOIN stage_wait sw ON sw.stage_id = wt.stage_id WHERE wt.id = ${sql.ref(`${r}.task_id`)})) END`;
}
