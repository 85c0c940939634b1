import { sql } from "kysely";
import { TaskStatus, type TaskType } from "@runway/shared";
import { Channel, type Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyCancel, notifyChange, notifyPending } from "./notify.js";
import { runEffects } from "./run-effects.js";

export type RunOutcome = "CREATED" | "ALREADY_ACTIVE" | "ALREADY_DONE" | "TASK_SKIPPED";
export type CancelOutcome = "CANCELED" | "CANCEL_REQUESTED";

interface LockedTask {
  id: string;
  status: string;
  type: TaskType;
  statement: string;
}

async function lockTasks(trx: Db, rolloutId: string, taskIds: string[]): Promise<Map<string, LockedTask>> {
  const { rows } = await sql<LockedTask>`
    SELECT id, status, type, statement FROM task
    WHERE rollout_id = ${rolloutId} AND id = ANY(${taskIds}::bigint[]) ORDER BY id FOR UPDATE`.execute(trx);
  const found = new Map(rows.map((r) => [r.id, r]));
  const missing = taskIds.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw new StoreError("NOT_FOUND", `tasks not found in rollout ${rolloutId}: ${missing.join(", ")}`, { taskIds: missing });
  }
  return found;
}

/**
 * Creates a PENDING run (AVAILABLE when no gate applies, see below) for each task that may run (idempotent per task; also how FAILED or CANCELED
 * tasks are retried). Rows are locked, and the partial unique index backs the one-active-run rule.
 */
export async function tasksRun(
  db: Db,
  p: { rolloutId: string; taskIds: string[]; runAt: Date | null; actor: string; now: Date },
): Promise<{ taskId: string; outcome: RunOutcome; taskRunId?: string }[]> {
  const ids = [...new Set(p.taskIds)];
  const runAt = p.runAt && p.runAt.getTime() > p.now.getTime() ? p.runAt : null;
  // One statement, so one round trip and atomic without BEGIN/COMMIT: lock the tasks, create a run for
  // each that may run (NOT_STARTED, FAILED, CANCELED) — nothing at all unless every task was found — and
  // report every task's status as found under the lock. The partial unique index backs the
  // one-active-run rule.
  const { rows } = await sql<{ task_id: string; status: string; run_id: string | null }>`
    WITH lk AS (
      SELECT id, status FROM task WHERE rollout_id = ${p.rolloutId} AND id = ANY(${ids}::bigint[]) ORDER BY id FOR UPDATE
    ), n AS (
      SELECT lk.id AS task_id FROM lk
      WHERE lk.status IN ('NOT_STARTED', 'FAILED', 'CANCELED') AND (SELECT count(*) FROM lk) = ${ids.length}
    ), r AS (
      -- A run no gate can ever hold (no run-at, not sequential, no schema version, a project without a
      -- parallel limit, a live project and instance) is created AVAILABLE: the pending scheduler's
      -- decision for it depends on nothing but the run itself. Every other run starts PENDING.
      INSERT INTO task_run (task_id, attempt, status, rollout_id, instance_id, database_name, sequential,
        schema_version_key, rerunnable, run_at, created_by, created_at, updated_at)
      SELECT t.id, coalesce((SELECT max(attempt) FROM task_run x WHERE x.task_id = t.id), 0) + 1,
        CASE WHEN t.type = 'DATABASE_DATA_UPDATE' AND t.schema_version_key IS NULL AND ${runAt}::timestamptz IS NULL
          AND p.parallel_tasks_per_rollout = 0 AND NOT p.deleted AND i.deleted IS FALSE THEN 'AVAILABLE' ELSE 'PENDING' END,
        t.rollout_id, t.instance_id, t.database_name, t.type <> 'DATABASE_DATA_UPDATE', t.schema_version_key,
        t.rerunnable, ${runAt}, ${p.actor}, ${p.now}, ${p.now}
      FROM n JOIN task t ON t.id = n.task_id JOIN rollout ro ON ro.id = t.rollout_id JOIN project p ON p.id = ro.project_id
      LEFT JOIN instance i ON i.id = t.instance_id
      ORDER BY t.id
      RETURNING id, task_id, status
    ), s AS (
      UPDATE task SET status = r.status, updated_at = ${p.now} FROM r WHERE task.id = r.task_id
    ), g AS (
      INSERT INTO gating_dirty_run (run_id) SELECT id FROM r WHERE r.status = 'PENDING'
    ), l AS (
      INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
      SELECT r.id, ${p.now}, 'STATUS', NULL, jsonb_build_object('status', r.status, 'message',
        CASE WHEN r.status = 'AVAILABLE' THEN 'created by ' || ${p.actor}::text || '; no gate applies'
             ELSE 'created by ' || ${p.actor}::text END,
        'runAt', ${runAt}::timestamptz) FROM r
    )
    -- The notifications ride on this statement (evaluated only when a run was created).
    SELECT lk.id AS task_id, lk.status, r.id AS run_id,
      (SELECT count(pg_notify(${Channel.PENDING}, '')) FROM (SELECT 1 FROM r WHERE status = 'PENDING' LIMIT 1) x) AS n1,
      (SELECT count(pg_notify(${Channel.AVAILABLE}, '')) FROM (SELECT 1 FROM r WHERE status = 'AVAILABLE' LIMIT 1) x) AS n2,
      (SELECT count(pg_notify(${Channel.CHANGE}, ${JSON.stringify({ rolloutIds: [p.rolloutId] })})) FROM (SELECT 1 FROM r LIMIT 1) x) AS n3
    FROM lk LEFT JOIN r ON r.task_id = lk.id`.execute(db);
  const found = new Map(rows.map((r) => [r.task_id, r]));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw new StoreError("NOT_FOUND", `tasks not found in rollout ${p.rolloutId}: ${missing.join(", ")}`, { taskIds: missing });
  }
  return p.taskIds.map((id) => {
    const r = found.get(id);
    if (!r) throw new StoreError("NOT_FOUND", `task ${id} not found in rollout ${p.rolloutId}`, { taskIds: [id] });
    if (r.run_id) return { taskId: id, outcome: "CREATED" as const, taskRunId: r.run_id };
    const outcome: RunOutcome =
      r.status === TaskStatus.SKIPPED ? "TASK_SKIPPED" : r.status === TaskStatus.DONE ? "ALREADY_DONE" : "ALREADY_ACTIVE";
    return { taskId: id, outcome };
  });
}

const SKIPPABLE = new Set<string>([TaskStatus.NOT_STARTED, TaskStatus.FAILED, TaskStatus.CANCELED]);

/** Skips every task or none: a task in any other status than NOT_STARTED, FAILED or CANCELED refuses all. */
export async function tasksSkip(
  db: Db,
  p: { rolloutId: string; taskIds: string[]; reason: string; now: Date },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const tasks = await lockTasks(trx, p.rolloutId, p.taskIds);
    const refused = [...tasks.values()].filter((t) => !SKIPPABLE.has(t.status));
    if (refused.length > 0) {
      throw new StoreError(
        "CONFLICT",
        `only NOT_STARTED, FAILED or CANCELED tasks can be skipped; refused: ${refused.map((t) => `task ${t.id} is ${t.status}`).join(", ")}`,
        { tasks: refused.map((t) => ({ taskId: t.id, status: t.status })) },
      );
    }
    await sql`
      WITH s AS (
        UPDATE task SET skipped = true, skip_reason = ${p.reason}, status = 'SKIPPED', updated_at = ${p.now}
        WHERE id = ANY(${p.taskIds}::bigint[]) RETURNING id, schema_version
      )
      INSERT INTO gating_dirty_task (task_id) SELECT id FROM s WHERE schema_version IS NOT NULL`.execute(trx);
    await notifyPending(trx);
    await notifyChange(trx, [p.rolloutId]);
  });
}

/**
 * PENDING and AVAILABLE runs are canceled at once; RUNNING ones get cancel_requested_at and their owner
 * aborts the statement. Any run in another status or rollout refuses the whole request.
 */
export async function taskRunsCancel(
  db: Db,
  p: { rolloutId: string; taskRunIds: string[]; actor: string; now: Date; replicaId: string | null },
): Promise<{ taskRunId: string; outcome: CancelOutcome }[]> {
  return db.transaction().execute(async (trx) => {
    // The row locks below hold up the owner's lease renewal of these runs: a replica frozen inside this
    // transaction (SIGSTOP, a long pause) must not keep them for long. PostgreSQL ends it after 2 s idle.
    await sql`SELECT set_config('idle_in_transaction_session_timeout', '2000', true)`.execute(trx);
    const { rows } = await sql<{ id: string; status: string; rollout_id: string }>`
      SELECT id, status, rollout_id FROM task_run WHERE id = ANY(${p.taskRunIds}::bigint[]) ORDER BY id FOR UPDATE`.execute(trx);
    const found = new Map(rows.map((r) => [r.id, r]));
    const missing = p.taskRunIds.filter((id) => !found.has(id) || found.get(id)!.rollout_id !== p.rolloutId);
    if (missing.length > 0) {
      throw new StoreError("NOT_FOUND", `task runs not found in rollout ${p.rolloutId}: ${missing.join(", ")}`, { taskRunIds: missing });
    }
    const refused = rows.filter((r) => !["PENDING", "AVAILABLE", "RUNNING"].includes(r.status));
    if (refused.length > 0) {
      throw new StoreError(
        "CONFLICT",
        `only PENDING, AVAILABLE or RUNNING runs can be canceled; refused: ${refused.map((r) => `run ${r.id} is ${r.status}`).join(", ")}`,
        { taskRuns: refused.map((r) => ({ taskRunId: r.id, status: r.status })) },
      );
    }
    const now = rows.filter((r) => r.status !== "RUNNING").map((r) => r.id);
    const running = rows.filter((r) => r.status === "RUNNING").map((r) => r.id);
    if (now.length > 0) {
      await sql`
        WITH f AS (
          UPDATE task_run r SET status = 'CANCELED', canceled_by = ${p.actor}, finished_at = ${p.now},
            updated_at = ${p.now}
          FROM task_run old WHERE r.id = old.id AND r.id = ANY(${now}::bigint[]) AND r.status IN ('PENDING', 'AVAILABLE')
          RETURNING r.id, r.task_id, r.rollout_id, r.instance_id, r.database_name, r.sequential, r.schema_version_key,
            r.status, old.status = 'AVAILABLE' AS left_active, ('canceled by ' || ${p.actor}::text) AS message
        ) ${runEffects(p.now, p.replicaId)}
        SELECT 1`.execute(trx);
      await notifyPending(trx);
    }
    if (running.length > 0) {
      await sql`
        WITH f AS (
          UPDATE task_run SET cancel_requested_at = coalesce(cancel_requested_at, ${p.now}), canceled_by = ${p.actor}, updated_at = ${p.now}
          WHERE id = ANY(${running}::bigint[]) AND status = 'RUNNING' RETURNING id
        )
        INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
        SELECT id, ${p.now}, 'CANCEL_REQUESTED', ${p.replicaId}, jsonb_build_object('message', 'cancel requested by ' || ${p.actor}::text) FROM f`.execute(trx);
      await notifyCancel(trx, running);
    }
    await notifyChange(trx, [p.rolloutId]);
    return p.taskRunIds.map((id) => ({
      taskRunId: id,
      outcome: running.includes(id) ? ("CANCEL_REQUESTED" as const) : ("CANCELED" as const),
    }));
  });
}
