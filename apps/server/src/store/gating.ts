import { sql } from "kysely";
import type { WaitingCause } from "@runway/shared";
import type { Db } from "./db.js";
import { notifyAvailable, notifyChange } from "./notify.js";
import { applyNearestBlockers, type GatingCandidate } from "../scheduler/gating.js";

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
  lastPassAt: Date | null;
  runs: string[];
  dbs: { instanceId: string; database: string; versionFrom: string | null }[];
  /** Versioned tasks that became DONE or SKIPPED, with where they live. */
  tasks: { instanceId: string; database: string; versionKey: string }[];
  rollouts: { rolloutId: string; allLimited: boolean }[];
}

/** Takes (deletes) the change records written since the last pass. Rolls back with the pass on failure. */
export async function gatingTakeChanges(trx: Db): Promise<GatingChanges> {
  const { rows } = await sql<{
    full: boolean;
    last_full: Date | null;
    last_pass: Date | null;
    runs: string[];
    dbs: { instance_id: string; database_name: string; version_from: string | null }[];
    tasks: { instance_id: string; database_name: string; schema_version_key: string }[];
    rollouts: { rollout_id: string; all_limited: boolean }[];
  }>`
    WITH s AS (SELECT full_pass_requested, last_full_pass_at, last_pass_at FROM gating_state WHERE id = 1),
    n AS (DELETE FROM gating_dirty_run RETURNING run_id),
    d AS (DELETE FROM gating_dirty_database RETURNING instance_id, database_name, version_from),
    t AS (DELETE FROM gating_dirty_task RETURNING task_id),
    r AS (DELETE FROM gating_dirty_rollout RETURNING rollout_id, all_limited)
    SELECT (SELECT full_pass_requested FROM s) AS full,
           (SELECT last_full_pass_at FROM s) AS last_full,
           (SELECT last_pass_at FROM s) AS last_pass,
           (SELECT coalesce(json_agg(n.run_id::text), '[]') FROM n) AS runs,
           (SELECT coalesce(json_agg(d), '[]') FROM d) AS dbs,
           (SELECT coalesce(json_agg(json_build_object('instance_id', k.instance_id, 'database_name', k.database_name,
              'schema_version_key', k.schema_version_key)), '[]') FROM t JOIN task k ON k.id = t.task_id
              WHERE k.schema_version_key IS NOT NULL) AS tasks,
           (SELECT coalesce(json_agg(json_build_object('rollout_id', r.rollout_id::text, 'all_limited', r.all_limited)), '[]') FROM r) AS rollouts
  `.execute(trx);
  const row = rows[0]!;
  return {
    fullRequested: row.full,
    lastFullPassAt: row.last_full,
    lastPassAt: row.last_pass,
    runs: row.runs,
    dbs: row.dbs.map((d) => ({ instanceId: d.instance_id, database: d.database_name, versionFrom: d.version_from })),
    tasks: row.tasks.map((t) => ({ instanceId: t.instance_id, database: t.database_name, versionKey: t.schema_version_key })),
    rollouts: row.rollouts.map((r) => ({ rolloutId: r.rollout_id, allLimited: r.all_limited })),
  };
}

/** Records the pass's `now` (the start of the next run-at window) and, after a full pass, clears the request. */
export async function gatingMarkPassDone(trx: Db, now: Date, full: boolean): Promise<void> {
  await sql`
    UPDATE gating_state SET last_pass_at = ${now},
      full_pass_requested = CASE WHEN ${full} THEN false ELSE full_pass_requested END,
      last_full_pass_at = CASE WHEN ${full} THEN ${now}::timestamptz ELSE last_full_pass_at END
    WHERE id = 1`.execute(trx);
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
  schema_version_key: string | null;
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
    versionKey: r.schema_version_key,
    versionBlocker: r.blocker_task_id ? { taskId: r.blocker_task_id, schemaVersion: r.blocker_version! } : null,
    cause: r.waiting_cause,
  };
}

const baseColumns = sql`
  r.id, r.task_id, r.rollout_id, r.instance_id, r.database_name, r.sequential, r.run_at, r.created_at,
  r.schema_version_key, w.cause AS waiting_cause, p.parallel_tasks_per_rollout AS parallel_limit, p.id AS project_id,
  p.deleted AS project_deleted, i.deleted AS instance_deleted`;
const baseJoins = sql`
  LEFT JOIN task_run_wait w ON w.run_id = r.id
  JOIN rollout ro ON ro.id = r.rollout_id
  JOIN project p ON p.id = ro.project_id
  LEFT JOIN instance i ON i.id = r.instance_id`;

/**
 * Every PENDING run. Version blockers are computed in memory from one read of the open versioned tasks
 * (cheaper than one index probe per run when every run is evaluated).
 */
export async function gatingLoadAllPending(trx: Db): Promise<GatingCandidate[]> {
  const { rows } = await sql<CandidateRow>`
    SELECT ${baseColumns}, NULL AS blocker_task_id, NULL AS blocker_version
    FROM task_run r ${baseJoins} WHERE r.status = 'PENDING'`.execute(trx);
  const open = await sql<{ id: string; instance_id: string; database_name: string; schema_version: string; schema_version_key: string }>`
    SELECT id, instance_id, database_name, schema_version, schema_version_key FROM task
    WHERE schema_version IS NOT NULL AND status NOT IN ('DONE', 'SKIPPED')`.execute(trx);
  const candidates = rows.map(toCandidate);
  applyNearestBlockers(
    candidates,
    open.rows.map((t) => ({ taskId: t.id, dbKey: dbKey(t.instance_id, t.database_name), key: t.schema_version_key, version: t.schema_version })),
  );
  return candidates;
}

/** Extra limit-held runs loaded per freed rollout beyond its free slots. */
export const LIMIT_MARGIN = 8;

/**
 * The live pass's candidates: only runs whose situation may have changed since they were last evaluated.
 * A run not selected here still has its recorded cause (see docs/scheduler.md for the argument).
 */
export async function gatingLoadChanged(trx: Db, changes: GatingChanges, now: Date): Promise<GatingCandidate[]> {
  const inst = changes.dbs.map((d) => d.instanceId);
  const dbs = changes.dbs.map((d) => d.database);
  const vfrom = changes.dbs.map((d) => d.versionFrom);
  const rids = changes.rollouts.map((r) => r.rolloutId);
  const rall = changes.rollouts.map((r) => r.allLimited);
  const since = changes.lastPassAt ?? new Date(0);
  const idQuery = sql<{ id: string }>`
    WITH cand AS (
      -- New runs, never evaluated.
      SELECT unnest(${changes.runs}::bigint[]) AS id
      UNION
      -- Runs whose run-at time arrived since the last pass.
      SELECT r.id FROM task_run r
      WHERE r.status = 'PENDING' AND r.run_at IS NOT NULL AND r.run_at > ${since} AND r.run_at <= ${now}
      UNION
      -- A database whose sequential run ended: a run there can change only if it is sequential and not
      -- held by version order, i.e. unversioned, or versioned with the database's smallest pending
      -- version (every larger one is held by that one). New versioned tasks may hold runs above them.
      -- (LATERAL … OFFSET 0 keeps each lookup an index probe whatever unnest's row estimate.)
      SELECT x.id FROM unnest(${inst}::text[], ${dbs}::text[], ${vfrom}::text[]) AS d(i, n, vf)
      CROSS JOIN LATERAL (
        SELECT r.id FROM task_run r
        WHERE r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING'
          AND r.sequential AND r.schema_version_key IS NULL
        UNION ALL
        SELECT r.id FROM task_run r
        WHERE r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING'
          AND r.schema_version_key = (
            SELECT min(m.schema_version_key) FROM task_run m
            WHERE m.instance_id = d.i AND m.database_name = d.n AND m.status = 'PENDING' AND m.schema_version_key IS NOT NULL)
        UNION ALL
        SELECT r.id FROM task_run r
        WHERE d.vf IS NOT NULL AND r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING'
          AND r.schema_version_key > (d.vf COLLATE "C")
        OFFSET 0
      ) x
      UNION
      -- Runs held by a version that became DONE or SKIPPED: those between it and the next unfinished
      -- version above it on the same database (their nearest smaller unfinished version was it).
      SELECT x.id FROM unnest(${changes.tasks.map((t) => t.instanceId)}::text[], ${changes.tasks.map((t) => t.database)}::text[],
        ${changes.tasks.map((t) => t.versionKey)}::text[]) AS v(i, n, k)
      CROSS JOIN LATERAL (
        SELECT min(t.schema_version_key) AS next_key FROM task t
        WHERE t.instance_id = v.i AND t.database_name = v.n AND t.schema_version IS NOT NULL
          AND t.status NOT IN ('DONE', 'SKIPPED') AND t.schema_version_key > (v.k COLLATE "C")
      ) nx
      CROSS JOIN LATERAL (
        SELECT r.id FROM task_run r
        WHERE r.instance_id = v.i AND r.database_name = v.n AND r.status = 'PENDING'
          AND r.schema_version_key IS NOT NULL AND r.schema_version_key > (v.k COLLATE "C")
          AND (nx.next_key IS NULL OR r.schema_version_key <= nx.next_key)
        OFFSET 0
      ) x
      UNION
      -- Rollouts with freed slots: the oldest limit-held runs, as many as there are free slots (plus a
      -- margin for runs whose cause went stale); all of them when the limit itself changed.
      SELECT l.id FROM unnest(${rids}::bigint[], ${rall}::boolean[]) AS x(rid, all_limited)
      JOIN rollout ro ON ro.id = x.rid
      JOIN project p ON p.id = ro.project_id
      CROSS JOIN LATERAL (
        SELECT count(*)::int AS n FROM task_run a WHERE a.rollout_id = x.rid AND a.status IN ('AVAILABLE', 'RUNNING')
      ) act
      CROSS JOIN LATERAL (
        SELECT w.run_id AS id FROM task_run_wait w
        WHERE w.rollout_id = x.rid AND w.type = 'PARALLEL_LIMIT'
        ORDER BY w.run_created_at, w.run_id
        LIMIT CASE WHEN x.all_limited OR p.parallel_tasks_per_rollout = 0 THEN NULL
                   ELSE greatest(p.parallel_tasks_per_rollout - act.n, 0) + ${LIMIT_MARGIN}::int END
      ) l
    )
    SELECT DISTINCT id FROM cand`;
  const ids = (await idQuery.execute(trx)).rows.map((r) => r.id);
  const query = sql<CandidateRow>`
    SELECT ${baseColumns}, vb.id AS blocker_task_id, vb.schema_version AS blocker_version
    FROM task_run r ${baseJoins}
    -- Nearest smaller unfinished version on the same database: one probe of task_open_version_idx.
    LEFT JOIN LATERAL (
      SELECT t.id, t.schema_version FROM task t
      WHERE r.schema_version_key IS NOT NULL
        AND t.instance_id = r.instance_id AND t.database_name = r.database_name
        AND t.schema_version IS NOT NULL AND t.status NOT IN ('DONE', 'SKIPPED')
        AND t.schema_version_key < r.schema_version_key
      ORDER BY t.schema_version_key DESC LIMIT 1
    ) vb ON true
    WHERE r.id = ANY(${ids}::bigint[]) AND r.status = 'PENDING'`;
  const { rows } = await query.execute(trx);
  return rows.map(toCandidate);
}

/** dbKey → task id of the AVAILABLE/RUNNING sequential run there; `null` keys means every database. */
export async function gatingLoadBusy(
  trx: Db,
  keys: { instanceId: string; database: string }[] | null,
): Promise<Map<string, string>> {
  const { rows } =
    keys === null
      ? await sql<{ instance_id: string; database_name: string; task_id: string }>`
          SELECT DISTINCT ON (instance_id, database_name) instance_id, database_name, task_id
          FROM task_run WHERE status IN ('AVAILABLE', 'RUNNING') AND sequential
          ORDER BY instance_id, database_name, id`.execute(trx)
      : await sql<{ instance_id: string; database_name: string; task_id: string }>`
          SELECT d.i AS instance_id, d.n AS database_name, b.task_id
          FROM unnest(${keys.map((k) => k.instanceId)}::text[], ${keys.map((k) => k.database)}::text[]) AS d(i, n)
          CROSS JOIN LATERAL (
            SELECT task_id FROM task_run
            WHERE instance_id = d.i AND database_name = d.n AND status IN ('AVAILABLE', 'RUNNING') AND sequential
            ORDER BY id LIMIT 1
          ) b`.execute(trx);
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
      UPDATE task_run SET status = 'AVAILABLE', updated_at = ${now}
      WHERE id = ANY(${runIds}::bigint[]) AND status = 'PENDING'
      RETURNING id, task_id, rollout_id
    ), w AS (
      DELETE FROM task_run_wait USING p WHERE task_run_wait.run_id = p.id
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
  // Only for runs still PENDING (the pass holds the lock, but a cancel may have landed meanwhile).
  await sql`
    INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at)
    SELECT c.id, c.cause ->> 'type', c.cause, r.rollout_id, r.created_at
    FROM unnest(${causes.map((c) => c.runId)}::bigint[], ${causes.map((c) => JSON.stringify(c.cause))}::jsonb[]) AS c(id, cause)
    JOIN task_run r ON r.id = c.id AND r.status = 'PENDING'
    ON CONFLICT (run_id) DO UPDATE SET type = excluded.type, cause = excluded.cause`.execute(trx);
  void now;
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
      UPDATE task_run r SET status = 'FAILED', finished_at = ${now}, updated_at = ${now},
        result = jsonb_build_object('error', jsonb_build_object('message', c.reason))
      FROM unnest(${fails.map((f) => f.runId)}::bigint[], ${fails.map((f) => f.reason)}::text[]) AS c(id, reason)
      WHERE r.id = c.id AND r.status = 'PENDING'
      RETURNING r.id, r.task_id, c.reason
    ), t AS (
      UPDATE task SET status = 'FAILED', updated_at = ${now} FROM f WHERE task.id = f.task_id
    ), w AS (
      DELETE FROM task_run_wait USING f WHERE task_run_wait.run_id = f.id
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

/** Earliest future run-at among PENDING runs, so the scheduler can wake exactly then. */
export async function gatingNextRunAt(trx: Db, now: Date): Promise<Date | null> {
  const { rows } = await sql<{ t: Date | null }>`
    SELECT min(run_at) AS t FROM task_run WHERE status = 'PENDING' AND run_at IS NOT NULL AND run_at > ${now}`.execute(trx);
  return rows[0]?.t ?? null;
}

export { notifyChange };
