import { sql } from "kysely";
import type { WaitingCause } from "@runway/shared";
import type { Db } from "./db.js";
import { notifyAvailable, notifyChange } from "./notify.js";
import type { GatingCandidate } from "../scheduler/gating.js";

/**
 * SQL of the pending scheduler's pass. Every function is one statement whose cost follows the size of its
 * input, so a pass issues the same number of statements whatever the backlog.
 */

export const PENDING_PASS_LOCK = 7_301_001;
export const SWEEP_LOCK = 7_301_002;

export async function tryXactLock(trx: Db, key: number): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${key}) AS ok`.execute(trx);
  return rows[0]?.ok === true;
}

export interface GatingChanges {
  fullRequested: boolean;
  lastFullPassAt: Date | null;
  dbs: { instanceId: string; database: string; versionFrom: string | null }[];
  tasks: string[];
  rollouts: { rolloutId: string; allLimited: boolean }[];
}

/** Takes (deletes) the change records written since the last pass. Rolls back with the pass on failure. */
export async function gatingTakeChanges(trx: Db): Promise<GatingChanges> {
  const { rows } = await sql<{
    full: boolean;
    last_full: Date | null;
    dbs: { instance_id: string; database_name: string; version_from: string | null }[];
    tasks: (string | number)[];
    rollouts: { rollout_id: string | number; all_limited: boolean }[];
  }>`
    WITH s AS (SELECT full_pass_requested, last_full_pass_at FROM gating_state WHERE id = 1),
    d AS (DELETE FROM gating_dirty_database RETURNING instance_id, database_name, version_from),
    t AS (DELETE FROM gating_dirty_task RETURNING task_id),
    r AS (DELETE FROM gating_dirty_rollout RETURNING rollout_id, all_limited)
    SELECT (SELECT full_pass_requested FROM s) AS full,
           (SELECT last_full_pass_at FROM s) AS last_full,
           (SELECT coalesce(json_agg(d), '[]') FROM d) AS dbs,
           (SELECT coalesce(json_agg(t.task_id::text), '[]') FROM t) AS tasks,
           (SELECT coalesce(json_agg(json_build_object('rollout_id', r.rollout_id::text, 'all_limited', r.all_limited)), '[]') FROM r) AS rollouts
  `.execute(trx);
  const row = rows[0]!;
  return {
    fullRequested: row.full,
    lastFullPassAt: row.last_full,
    dbs: row.dbs.map((d) => ({ instanceId: d.instance_id, database: d.database_name, versionFrom: d.version_from })),
    tasks: row.tasks.map(String),
    rollouts: row.rollouts.map((r) => ({ rolloutId: String(r.rollout_id), allLimited: r.all_limited })),
  };
}

export async function gatingMarkFullPassDone(trx: Db, now: Date): Promise<void> {
  await sql`UPDATE gating_state SET full_pass_requested = false, last_full_pass_at = ${now} WHERE id = 1`.execute(trx);
}

export async function gatingRequestFullPass(db: Db): Promise<void> {
  await sql`UPDATE gating_state SET full_pass_requested = true WHERE id = 1`.execute(db);
}

interface CandidateRow {
  id: string;
  task_id: string;
  rollout_id: string;
  instance_id: string;
  database_name: string;
  sequential: boolean;
  run_at: Date | null;
  created_at: Date;
  waiting_cause: WaitingCause | null;
  parallel_limit: number;
  project_id: string;
  project_deleted: boolean;
  instance_deleted: boolean | null;
  blocker_task_id: string | null;
  blocker_version: string | null;
}

export const dbKey = (instanceId: string, database: string): string => `${instanceId}/${database}`;

function toCandidate(r: CandidateRow): GatingCandidate {
  let orphanReason: string | null = null;
  if (r.project_deleted) orphanReason = `project "${r.project_id}" was deleted`;
  else if (r.instance_deleted !== false) orphanReason = `instance "${r.instance_id}" was deleted`;
  return {
    runId: r.id,
    taskId: r.task_id,
    rolloutId: r.rollout_id,
    dbKey: dbKey(r.instance_id, r.database_name),
    sequential: r.sequential,
    runAt: r.run_at,
    createdAt: r.created_at,
    limit: r.parallel_limit,
    orphanReason,
    versionBlocker: r.blocker_task_id ? { taskId: r.blocker_task_id, schemaVersion: r.blocker_version! } : null,
    cause: r.waiting_cause,
  };
}

// The columns a decision needs, with the nearest smaller unfinished version found through
// task_open_version_idx (one index probe per versioned candidate).
const candidateColumns = sql`
  r.id, r.task_id, r.rollout_id, r.instance_id, r.database_name, r.sequential, r.run_at, r.created_at,
  r.waiting_cause, p.parallel_tasks_per_rollout AS parallel_limit, p.id AS project_id,
  p.deleted AS project_deleted, i.deleted AS instance_deleted,
  vb.id AS blocker_task_id, vb.schema_version AS blocker_version`;
const candidateJoins = sql`
  JOIN rollout ro ON ro.id = r.rollout_id
  JOIN project p ON p.id = ro.project_id
  LEFT JOIN instance i ON i.id = r.instance_id
  LEFT JOIN LATERAL (
    SELECT t.id, t.schema_version FROM task t
    WHERE r.schema_version_key IS NOT NULL
      AND t.instance_id = r.instance_id AND t.database_name = r.database_name
      AND t.schema_version IS NOT NULL AND t.status NOT IN ('DONE', 'SKIPPED')
      AND t.schema_version_key < r.schema_version_key
    ORDER BY t.schema_version_key DESC LIMIT 1
  ) vb ON true`;

export async function gatingLoadAllPending(trx: Db): Promise<GatingCandidate[]> {
  const { rows } = await sql<CandidateRow>`
    SELECT ${candidateColumns} FROM task_run r ${candidateJoins}
    WHERE r.status = 'PENDING'`.execute(trx);
  return rows.map(toCandidate);
}

/**
 * The live pass's candidates: only runs whose situation may have changed since they were last evaluated.
 * A run not selected here still has its recorded cause (see docs/scheduler.md for the argument).
 */
export async function gatingLoadChanged(
  trx: Db,
  changes: GatingChanges,
  now: Date,
  perRolloutLimit: number,
): Promise<GatingCandidate[]> {
  const inst = changes.dbs.map((d) => d.instanceId);
  const dbs = changes.dbs.map((d) => d.database);
  const vfrom = changes.dbs.map((d) => d.versionFrom);
  const rids = changes.rollouts.map((r) => r.rolloutId);
  const rall = changes.rollouts.map((r) => r.allLimited);
  const { rows } = await sql<CandidateRow>`
    WITH cand AS (
      SELECT r.id FROM unnest(${inst}::text[], ${dbs}::text[], ${vfrom}::text[]) AS d(i, n, vf)
      JOIN task_run r ON r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING'
      WHERE (r.waiting_cause ->> 'type') IS DISTINCT FROM 'VERSION_ORDER'
         OR (d.vf IS NOT NULL AND r.schema_version_key > (d.vf COLLATE "C"))
      UNION
      SELECT r.id FROM task_run r
      WHERE r.status = 'PENDING' AND (r.waiting_cause ->> 'type') = 'VERSION_ORDER'
        AND ((r.waiting_cause ->> 'taskId')::bigint) = ANY(${changes.tasks}::bigint[])
      UNION
      SELECT l.id FROM unnest(${rids}::bigint[], ${rall}::boolean[]) AS x(rid, all_limited)
      CROSS JOIN LATERAL (
        SELECT r.id FROM task_run r
        WHERE r.rollout_id = x.rid AND r.status = 'PENDING' AND (r.waiting_cause ->> 'type') = 'PARALLEL_LIMIT'
        ORDER BY r.created_at, r.id
        LIMIT CASE WHEN x.all_limited THEN NULL ELSE ${perRolloutLimit}::int END
      ) l
      UNION
      SELECT r.id FROM task_run r WHERE r.status = 'PENDING' AND r.waiting_cause IS NULL
      UNION
      SELECT r.id FROM task_run r
      WHERE r.status = 'PENDING' AND (r.waiting_cause ->> 'type') = 'RUN_AT' AND r.run_at <= ${now}
    )
    SELECT ${candidateColumns} FROM cand JOIN task_run r ON r.id = cand.id ${candidateJoins}
    WHERE r.status = 'PENDING'`.execute(trx);
  return rows.map(toCandidate);
}

/** dbKey → task id of the AVAILABLE/RUNNING sequential run there; `null` keys means every database. */
export async function gatingLoadBusy(
  trx: Db,
  keys: { instanceId: string; database: string }[] | null,
): Promise<Map<string, string>> {
  const filter =
    keys === null
      ? sql`true`
      : sql`(instance_id, database_name) IN (SELECT * FROM unnest(${keys.map((k) => k.instanceId)}::text[], ${keys.map((k) => k.database)}::text[]))`;
  const { rows } = await sql<{ instance_id: string; database_name: string; task_id: string }>`
    SELECT DISTINCT ON (instance_id, database_name) instance_id, database_name, task_id
    FROM task_run WHERE status IN ('AVAILABLE', 'RUNNING') AND sequential AND ${filter}
    ORDER BY instance_id, database_name, id`.execute(trx);
  return new Map(rows.map((r) => [dbKey(r.instance_id, r.database_name), r.task_id]));
}

/** AVAILABLE + RUNNING runs per rollout, for the given rollouts. */
export async function gatingLoadActive(trx: Db, rolloutIds: string[]): Promise<Map<string, number>> {
  const { rows } = await sql<{ rollout_id: string; n: number }>`
    SELECT rollout_id, count(*)::int AS n FROM task_run
    WHERE status IN ('AVAILABLE', 'RUNNING') AND rollout_id = ANY(${rolloutIds}::bigint[])
    GROUP BY rollout_id`.execute(trx);
  return new Map(rows.map((r) => [r.rollout_id, r.n]));
}

/** PENDING → AVAILABLE (compare-and-set on status), task status, log entry; wakes the running schedulers. */
export async function gatingPromote(trx: Db, runIds: string[], now: Date, replicaId: string): Promise<string[]> {
  if (runIds.length === 0) return [];
  const { rows } = await sql<{ id: string; rollout_id: string }>`
    WITH p AS (
      UPDATE task_run SET status = 'AVAILABLE', waiting_cause = NULL, updated_at = ${now}
      WHERE id = ANY(${runIds}::bigint[]) AND status = 'PENDING'
      RETURNING id, task_id, rollout_id
    ), t AS (
      UPDATE task SET status = 'AVAILABLE', updated_at = ${now} FROM p WHERE task.id = p.task_id
    ), l AS (
      INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
      SELECT p.id, ${now}, 'STATUS', ${replicaId}, '{"status":"AVAILABLE","message":"all gates passed"}'::jsonb FROM p
    )
    SELECT id, rollout_id FROM p`.execute(trx);
  if (rows.length > 0) await notifyAvailable(trx);
  return [...new Set(rows.map((r) => r.rollout_id))];
}

export async function gatingWriteCauses(
  trx: Db,
  causes: { runId: string; cause: WaitingCause }[],
  now: Date,
): Promise<void> {
  if (causes.length === 0) return;
  await sql`
    UPDATE task_run r SET waiting_cause = c.cause, updated_at = ${now}
    FROM unnest(${causes.map((c) => c.runId)}::bigint[], ${causes.map((c) => JSON.stringify(c.cause))}::jsonb[]) AS c(id, cause)
    WHERE r.id = c.id AND r.status = 'PENDING'`.execute(trx);
}

/** Fails runs that can never run (project or instance deleted), with the reason in the result. */
export async function gatingFailOrphans(
  trx: Db,
  fails: { runId: string; reason: string }[],
  now: Date,
  replicaId: string,
): Promise<void> {
  if (fails.length === 0) return;
  await sql`
    WITH f AS (
      UPDATE task_run r SET status = 'FAILED', finished_at = ${now}, updated_at = ${now}, waiting_cause = NULL,
        result = jsonb_build_object('error', jsonb_build_object('message', c.reason))
      FROM unnest(${fails.map((f) => f.runId)}::bigint[], ${fails.map((f) => f.reason)}::text[]) AS c(id, reason)
      WHERE r.id = c.id AND r.status = 'PENDING'
      RETURNING r.id, r.task_id, c.reason
    ), t AS (
      UPDATE task SET status = 'FAILED', updated_at = ${now} FROM f WHERE task.id = f.task_id
    )
    INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
    SELECT f.id, ${now}, 'STATUS', ${replicaId}, jsonb_build_object('status', 'FAILED', 'message', f.reason) FROM f
  `.execute(trx);
}

/** Re-marks databases and rollouts for the next pass (work this pass could not finish or made stale). */
export async function gatingMarkForNextPass(
  trx: Db,
  dbs: { instanceId: string; database: string }[],
  rolloutIds: string[],
): Promise<void> {
  if (dbs.length === 0 && rolloutIds.length === 0) return;
  await sql`
    WITH d AS (
      INSERT INTO gating_dirty_database (instance_id, database_name)
      SELECT * FROM unnest(${dbs.map((d) => d.instanceId)}::text[], ${dbs.map((d) => d.database)}::text[])
      ON CONFLICT DO NOTHING
    )
    INSERT INTO gating_dirty_rollout (rollout_id) SELECT unnest(${rolloutIds}::bigint[])
    ON CONFLICT DO NOTHING`.execute(trx);
}

/** Earliest run-at among runs held by RUN_AT, so the scheduler can wake exactly then. */
export async function gatingNextRunAt(trx: Db): Promise<Date | null> {
  const { rows } = await sql<{ t: Date | null }>`
    SELECT min(run_at) AS t FROM task_run WHERE status = 'PENDING' AND (waiting_cause ->> 'type') = 'RUN_AT'`.execute(trx);
  return rows[0]?.t ?? null;
}

export { notifyChange };
