import { sql } from "kysely";
import { prepared, type Db } from "../db.js";
import { notifyChangeOf } from "../notify.js";
import { parseIds, stepIds, transitionStatement } from "./builder.js";
import { memoStatement } from "../memo-statement.js";

/**
 * The rollouts with runs waiting DATABASE_BUSY on the databases the promoted sequential runs take: the API
 * names a database's holder live (the recorded cause keeps the first one), so their dashboards learn of the
 * new holder here rather than from a rewritten cause. A loose scan of task_run_wait_db_rollout_idx: one probe
 * per such rollout and database, not per waiting run.
 */
const busyWaitRollouts = sql`(
  WITH RECURSIVE d AS (SELECT DISTINCT instance_id, database_name FROM ch WHERE ch.sequential AND ch.status = 'AVAILABLE'),
  l(i, n, rollout_id) AS (
    SELECT d.instance_id, d.database_name, (SELECT min(w.rollout_id) FROM task_run_wait w
      WHERE w.instance_id = d.instance_id AND w.database_name = d.database_name AND w.type = 'DATABASE_BUSY') FROM d
    UNION ALL
    SELECT l.i, l.n, (SELECT min(w.rollout_id) FROM task_run_wait w
      WHERE w.instance_id = l.i AND w.database_name = l.n AND w.type = 'DATABASE_BUSY' AND w.rollout_id > l.rollout_id)
    FROM l WHERE l.rollout_id IS NOT NULL
  )
  SELECT rollout_id FROM l WHERE rollout_id IS NOT NULL) bw`;

/** The pending scheduler's transitions. The pass holds its lock (see PassLock) around both. */

/** The promote, memoized (see memoStatement): on the pickup path of every run a gate held, one text whatever the count. */
export const promoteStatement = memoStatement<{ runIds: string[]; now: Date; replicaId: string }, "", unknown>((p) =>
  prepared(
    transitionStatement({
      steps: [
        {
          name: "promote",
          sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET status = 'AVAILABLE', updated_at = ${p.now}
        WHERE r.id = ANY(${p.runIds}::bigint[]) AND ${guard}
        RETURNING ${returning}, 'all gates passed' AS reason, NULL::jsonb AS detail`,
        },
      ],
      now: p.now,
      replicaId: p.replicaId,
      extra: (rel) => sql`${notifyChangeOf(busyWaitRollouts)} AS notified_busy_wait, ${stepIds(rel(0), "promoted")}`,
      listChanged: false,
    }),
  ),
);

/**
 * PENDING → AVAILABLE (compare-and-set on status). Returns the runs promoted: a run canceled since the
 * pass read it is not, and must not count against any gate.
 */
export async function gatingPromote(trx: Db, runIds: string[], now: Date, replicaId: string): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  const { rows } = await promoteStatement.run(trx, "", { runIds, now, replicaId });
  return parseIds((rows[0] as { promoted: string }).promoted);
}

/** PENDING → FAILED for runs that can never run (project or instance deleted), the reason in the result. */
export async function gatingFailOrphans(trx: Db, fails: { runId: string; reason: string }[], now: Date, replicaId: string): Promise<void> {
  if (fails.length === 0) return;
  await transitionStatement({
    steps: [
      {
        name: "failOrphan",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET status = 'FAILED', finished_at = ${now}, updated_at = ${now},
          result = jsonb_build_object('error', jsonb_build_object('message', c.reason))
        FROM unnest(${fails.map((f) => f.runId)}::bigint[], ${fails.map((f) => f.reason)}::text[]) AS c(id, reason)
        WHERE r.id = c.id AND ${guard}
        RETURNING ${returning}, c.reason AS reason, NULL::jsonb AS detail`,
      },
    ],
    listChanged: false,
    now,
    replicaId,
  }).execute(trx);
}
