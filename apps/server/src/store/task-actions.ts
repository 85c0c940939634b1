import { sql } from "kysely";
import { TaskStatus, type TaskType } from "@runway/shared";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyCancel, notifyChange, notifyPending } from "./notify.js";
import { runEffects } from "./run-effects.js";
import { isRerunnable } from "../executors/statement-kind.js";

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
 * Creates a PENDING run for each task that may run (idempotent per task; also how FAILED or CANCELED
 * tasks are retried). Rows are locked, and the partial unique index backs the one-active-run rule.
 */
export async function tasksRun(
  db: Db,
  p: { rolloutId: string; taskIds: string[]; runAt: Date | null; actor: string; now: Date },
): Promise<{ taskId: string; outcome: RunOutcome; taskRunId?: string }[]> {
  return db.transaction().execute(async (trx) => {
    const tasks = await lockTasks(trx, p.rolloutId, p.taskIds);
    const outcome = new Map<string, RunOutcome>();
    const create: LockedTask[] = [];
    for (const t of tasks.values()) {
      if (t.status === TaskStatus.SKIPPED) outcome.set(t.id, "TASK_SKIPPED");
      else if (t.status === TaskStatus.DONE) outcome.set(t.id, "ALREADY_DONE");
      else if (t.status === TaskStatus.PENDING || t.status === TaskStatus.AVAILABLE || t.status === TaskStatus.RUNNING)
        outcome.set(t.id, "ALREADY_ACTIVE");
      else create.push(t);
    }
    const runAt = p.runAt && p.runAt.getTime() > p.now.getTime() ? p.runAt : null;
    const created = new Map<string, string>();
    if (create.length > 0) {
      const { rows } = await sql<{ id: string; task_id: string }>`
        WITH n AS (
          SELECT * FROM unnest(${create.map((t) => t.id)}::bigint[], ${create.map((t) => isRerunnable(t.type, t.statement))}::boolean[])
            AS n(task_id, rerunnable)
        ), r AS (
          INSERT INTO task_run (task_id, attempt, status, rollout_id, instance_id, database_name, sequential,
            schema_version_key, rerunnable, run_at, created_by, created_at, updated_at)
          SELECT t.id, coalesce((SELECT max(attempt) FROM task_run x WHERE x.task_id = t.id), 0) + 1, 'PENDING',
            t.rollout_id, t.instance_id, t.database_name, t.type <> 'DATABASE_DATA_UPDATE', t.schema_version_key,
            n.rerunnable, ${runAt}, ${p.actor}, ${p.now}, ${p.now}
          FROM n JOIN task t ON t.id = n.task_id ORDER BY t.id
          RETURNING id, task_id
        ), s AS (
          UPDATE task SET status = 'PENDING', updated_at = ${p.now} FROM r WHERE task.id = r.task_id
        ), g AS (
          INSERT INTO gating_dirty_run (run_id) SELECT id FROM r
        ), l AS (
          INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
          SELECT r.id, ${p.now}, 'STATUS', NULL, jsonb_build_object('status', 'PENDING', 'message', 'created by ' || ${p.actor}::text,
            'runAt', ${runAt}::timestamptz) FROM r
        )
        SELECT id, task_id FROM r`.execute(trx);
      for (const r of rows) {
        created.set(r.task_id, r.id);
        outcome.set(r.task_id, "CREATED");
      }
      await notifyPending(trx);
      await notifyChange(trx, [p.rolloutId]);
    }
    return p.taskIds.map((id) => {
      const taskRunId = created.get(id);
      return taskRunId ? { taskId: id, outcome: outcome.get(id)!, taskRunId } : { taskId: id, outcome: outcome.get(id)! };
    });
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
