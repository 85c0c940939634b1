import { sql } from "kysely";
import { TaskStatus, type TaskType } from "@runway/shared";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyCancel, notifyChange, notifyPending } from "./notify.js";
import { taskRunsCancelNow, taskRunsCreateAndClaim } from "./transitions/api.js";
import type { ClaimedRun, SlotClaim } from "./transitions/claim.js";

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

export type RunResult = { taskId: string; outcome: RunOutcome; taskRunId?: string };

/**
 * Creates a PENDING run (AVAILABLE when no gate applies, see below) for each task that may run (idempotent per
 * task; also how FAILED or CANCELED tasks are retried). Rows are locked, and the partial unique index backs
 * the one-active-run rule.
 */
export async function tasksRun(
  db: Db,
  p: { rolloutId: string; taskIds: string[]; runAt: Date | null; actor: string; now: Date },
): Promise<RunResult[]> {
  return (await tasksRunAndClaim(db, p)).results;
}

/**
 * tasksRun, claiming up to `claim.limit` of the new runs no gate can hold for the replica that serves the call
 * (taskRunsCreateAndClaim): they are RUNNING when it returns, and the caller starts them (RunningScheduler.create).
 */
export async function tasksRunAndClaim(
  db: Db,
  p: { rolloutId: string; taskIds: string[]; runAt: Date | null; actor: string; now: Date; claim?: SlotClaim | undefined },
): Promise<{ results: RunResult[]; claimed: ClaimedRun[] }> {
  const ids = [...new Set(p.taskIds)];
  const runAt = p.runAt && p.runAt.getTime() > p.now.getTime() ? p.runAt : null;
  const { tasks: rows, claimed } = await taskRunsCreateAndClaim(db, {
    rolloutId: p.rolloutId,
    taskIds: ids,
    runAt,
    actor: p.actor,
    now: p.now,
    claim: p.claim,
  });
  const found = new Map(rows.map((r) => [r.task_id, r]));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw new StoreError("NOT_FOUND", `tasks not found in rollout ${p.rolloutId}: ${missing.join(", ")}`, { taskIds: missing });
  }
  const results = p.taskIds.map((id) => {
    const r = found.get(id);
    if (!r) throw new StoreError("NOT_FOUND", `task ${id} not found in rollout ${p.rolloutId}`, { taskIds: [id] });
    if (r.run_id) return { taskId: id, outcome: "CREATED" as const, taskRunId: r.run_id };
    const outcome: RunOutcome =
      r.status === TaskStatus.SKIPPED ? "TASK_SKIPPED" : r.status === TaskStatus.DONE ? "ALREADY_DONE" : "ALREADY_ACTIVE";
    return { taskId: id, outcome };
  });
  return { results, claimed };
}

const SKIPPABLE = new Set<string>([TaskStatus.NOT_STARTED, TaskStatus.FAILED, TaskStatus.CANCELED]);

/** Skips every task or none: a task in any other status than NOT_STARTED, FAILED or CANCELED refuses all. */
export async function tasksSkip(db: Db, p: { rolloutId: string; taskIds: string[]; reason: string; now: Date }): Promise<void> {
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
    await tasksSkipLocked(trx, p);
  });
}

/** Skips tasks whose rows the caller locked and found skippable (marks versioned ones for the live pass). */
export async function tasksSkipLocked(trx: Db, p: { rolloutId: string; taskIds: string[]; reason: string; now: Date }): Promise<void> {
  if (p.taskIds.length === 0) return;
  await sql`
    WITH s AS (
      UPDATE task SET skipped = true, skip_reason = ${p.reason}, status = 'SKIPPED', updated_at = ${p.now}
      WHERE id = ANY(${p.taskIds}::bigint[]) RETURNING id, schema_version
    )
    , v AS (INSERT INTO gating_dirty_task (task_id) SELECT id FROM s WHERE schema_version IS NOT NULL)
    -- A skipped task may complete its stage (stage gate, auto-run).
    INSERT INTO gating_dirty_rollout (rollout_id) VALUES (${p.rolloutId})`.execute(trx);
  await notifyPending(trx);
  await notifyChange(trx, [p.rolloutId]);
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
    await taskRunsCancelNow(trx, { runIds: now, actor: p.actor, now: p.now, replicaId: p.replicaId });
    await taskRunsRequestCancel(trx, { runIds: running, actor: p.actor, now: p.now, replicaId: p.replicaId });
    await notifyChange(trx, [p.rolloutId]);
    return p.taskRunIds.map((id) => ({
      taskRunId: id,
      outcome: running.includes(id) ? ("CANCEL_REQUESTED" as const) : ("CANCELED" as const),
    }));
  });
}

/** Records a cancel request on RUNNING runs (locked by the caller) and wakes their owners. */
export async function taskRunsRequestCancel(
  trx: Db,
  p: { runIds: string[]; actor: string; now: Date; replicaId: string | null },
): Promise<void> {
  if (p.runIds.length === 0) return;
  await sql`
    WITH f AS (
      UPDATE task_run SET cancel_requested_at = coalesce(cancel_requested_at, ${p.now}), canceled_by = ${p.actor}, updated_at = ${p.now}
      WHERE id = ANY(${p.runIds}::bigint[]) AND status = 'RUNNING' RETURNING id
    )
    INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
    SELECT id, ${p.now}, 'CANCEL_REQUESTED', ${p.replicaId}, jsonb_build_object('message', 'cancel requested by ' || ${p.actor}::text,
      'by', 'api', 'user', ${p.actor}::text) FROM f`.execute(trx);
  await notifyCancel(trx, p.runIds);
}
