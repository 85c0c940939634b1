import { sql } from "kysely";
import type { TaskRunStatus, TaskStatus, TaskType, WaitingCause } from "@runway/shared";
import type { LogEntry, RunResult, Task, TaskRun } from "@runway/shared/schemas";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { logEventOf } from "../domain/log-event.js";
import { databaseHolderSql } from "./holder.js";
import { recordedCause } from "./run-wait.js";
import { dbKey } from "../domain/gating.js";
import { STATUS_AVAILABLE } from "./transitions/claim.js";

interface RunRow {
  id: string;
  task_id: string;
  rollout_id: string;
  attempt: number;
  status: string;
  run_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  created_by: string | null;
  canceled_by: string | null;
  cancel_requested_at: Date | null;
  owner_replica: string | null;
  owner_lost_at: Date | null;
  owner_lost_error: string | null;
  waiting_cause: unknown;
  result: unknown;
  auto_retries: number;
  auto_retry_max: number | null;
  instance_id: string;
  database_name: string;
}

const RUN_COLUMNS = sql`r.id, r.task_id, r.rollout_id, r.attempt, r.status, r.run_at, r.created_at, r.started_at,
  r.finished_at, r.created_by, r.canceled_by, r.cancel_requested_at, r.owner_replica, r.owner_lost_at, r.owner_lost_error, ${recordedCause("r")} AS waiting_cause, r.result,
  r.auto_retries, r.auto_retry_max, r.instance_id, r.database_name`;

const iso = (d: Date | null) => d?.toISOString() ?? null;

interface LiveFacts {
  /** AVAILABLE + RUNNING runs per rollout, for PARALLEL_LIMIT causes. */
  active: Map<string, number>;
  /** The task holding each database (instance/database) now, for DATABASE_BUSY causes. */
  holders: Map<string, string>;
}

function toRun(r: RunRow, live: LiveFacts): TaskRun {
  const run: TaskRun = {
    id: r.id,
    taskId: r.task_id,
    attempt: r.attempt,
    status: r.status as TaskRunStatus,
    runAt: iso(r.run_at),
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    createdBy: r.created_by,
    canceledBy: r.canceled_by,
    cancelRequestedAt: iso(r.cancel_requested_at),
    replicaId: r.owner_replica,
  };
  const cause = r.waiting_cause as WaitingCause | null;
  // Only a PENDING run waits; a stale cause on another status would mislead.
  if (cause && r.status === "PENDING") {
    if (cause.type === "PARALLEL_LIMIT") run.waitingCause = { ...cause, active: live.active.get(r.rollout_id) ?? 0 };
    else if (cause.type === "DATABASE_BUSY") {
      // The current holder; the recorded one (the first of this wait) in the moment before the next pass.
      run.waitingCause = { ...cause, taskId: live.holders.get(holderKey(r)) ?? cause.taskId };
    } else run.waitingCause = cause;
  }
  if (r.owner_lost_at && r.status === "RUNNING") run.ownerLost = { since: r.owner_lost_at.toISOString(), error: r.owner_lost_error };
  if (r.result !== null && r.result !== undefined) run.result = r.result as RunResult; // written by our executors
  if (r.auto_retries > 0) run.autoRetry = { attempt: r.auto_retries, max: Math.max(r.auto_retries, r.auto_retry_max ?? 0) };
  return run;
}

/**
 * The live AVAILABLE+RUNNING count per rollout, for PARALLEL_LIMIT causes only: the scheduler does not
 * persist it (it changes every tick), so it is added when read (`task_run_rollout_active_idx`).
 */
async function activeCounts(db: Db, rows: RunRow[]): Promise<Map<string, number>> {
  const ids = [
    ...new Set(
      rows
        .filter((r) => r.status === "PENDING" && (r.waiting_cause as WaitingCause | null)?.type === "PARALLEL_LIMIT")
        .map((r) => r.rollout_id),
    ),
  ];
  if (ids.length === 0) return new Map();
  const { rows: counts } = await sql<{ rollout_id: string; n: number }>`
    SELECT rollout_id, count(*)::int AS n FROM task_run
    WHERE rollout_id = ANY(${ids}::bigint[]) AND status IN ('AVAILABLE', 'RUNNING') GROUP BY 1`.execute(db);
  return new Map(counts.map((c) => [c.rollout_id, c.n]));
}

const holderKey = (r: RunRow) => dbKey(r.instance_id, r.database_name);

/**
 * The task holding each database where a DATABASE_BUSY run of `rows` waits: the scheduler records the holder
 * when the wait begins and not at each new holder (it would rewrite every run queued there), so the current
 * one is read here (databaseHolderSql).
 */
async function busyHolders(db: Db, rows: RunRow[]): Promise<Map<string, string>> {
  const dbs = new Map<string, RunRow>();
  for (const r of rows)
    if (r.status === "PENDING" && (r.waiting_cause as WaitingCause | null)?.type === "DATABASE_BUSY") dbs.set(holderKey(r), r);
  if (dbs.size === 0) return new Map();
  const list = [...dbs.values()];
  const { rows: held } = await sql<{ i: string; n: string; task_id: string | null }>`
    SELECT d.i, d.n, ${databaseHolderSql(sql`d.i`, sql`d.n`)}::text AS task_id
    FROM unnest(${list.map((r) => r.instance_id)}::text[], ${list.map((r) => r.database_name)}::text[]) AS d(i, n)`.execute(db);
  return new Map(held.filter((h) => h.task_id !== null).map((h) => [dbKey(h.i, h.n), h.task_id!]));
}

async function runsToDto(db: Db, rows: RunRow[]): Promise<TaskRun[]> {
  const [active, holders] = await Promise.all([activeCounts(db, rows), busyHolders(db, rows)]);
  return rows.map((r) => toRun(r, { active, holders }));
}

export interface TaskRow {
  id: string;
  rollout_id: string;
  stage_id: string;
  type: string;
  instance_id: string;
  database_name: string;
  schema_version: string | null;
  statement: string;
  status: string;
  skip_reason: string | null;
}

/** The columns of a TaskRow, for callers that read tasks themselves (withLatestRuns). */
export const TASK_COLUMNS = [
  "id",
  "rollout_id",
  "stage_id",
  "type",
  "instance_id",
  "database_name",
  "schema_version",
  "statement",
  "status",
  "skip_reason",
] as const;

/** Tasks with their latest run (the highest attempt), in one query for all the page's runs. */
export async function withLatestRuns(db: Db, rows: TaskRow[]): Promise<Task[]> {
  const ids = rows.map((r) => r.id);
  const runs =
    ids.length === 0
      ? []
      : (
          await sql<RunRow>`
    SELECT DISTINCT ON (r.task_id) ${RUN_COLUMNS} FROM task_run r
    WHERE r.task_id = ANY(${ids}::bigint[]) ORDER BY r.task_id, r.attempt DESC`.execute(db)
        ).rows;
  const latest = new Map((await runsToDto(db, runs)).map((r) => [r.taskId, r]));
  return rows.map((t) => {
    const task: Task = {
      id: t.id,
      rolloutId: t.rollout_id,
      stageId: t.stage_id,
      type: t.type as TaskType,
      instanceId: t.instance_id,
      database: t.database_name,
      schemaVersion: t.schema_version,
      statement: t.statement,
      status: t.status as TaskStatus,
    };
    if (t.skip_reason !== null) task.skipReason = t.skip_reason;
    const run = latest.get(t.id);
    if (run) task.latestRun = run;
    return task;
  });
}

/**
 * Ids of a rollout's tasks whose served form may have changed after `since`. A task's own `updated_at` moves
 * only when it is created or skipped or becomes DONE or CANCELED: every other status change of a task is a
 * HOT update that stamps only its run (migration 0066). So the other branches read the runs: one that became
 * or stayed AVAILABLE or RUNNING (a promotion, a claim, a cancel request), one that became FAILED, and a
 * PENDING one created, requeued or with a changed waiting cause (a changed cause gets a new `since`; the
 * pass stamps nothing else). Each branch reads only its rollout's changed or active rows
 * (`task_rollout_updated_idx`, `task_run_rollout_active_idx`, `task_run_rollout_failed_idx`,
 * `task_run_pending_rollout_idx`), not the rollout's other tasks.
 */
const changedTaskIds = (rolloutId: string, since: Date) => sql`
  SELECT id FROM task WHERE rollout_id = ${rolloutId} AND updated_at > ${since}
  UNION
  SELECT task_id FROM task_run WHERE rollout_id = ${rolloutId} AND status IN ('AVAILABLE', 'RUNNING') AND updated_at > ${since}
  UNION
  SELECT task_id FROM task_run WHERE rollout_id = ${rolloutId} AND status = 'FAILED' AND finished_at > ${since}
  UNION
  SELECT r.task_id FROM task_run r
  WHERE r.rollout_id = ${rolloutId} AND r.status = 'PENDING'
    AND (r.updated_at > ${since} OR (${recordedCause("r")} ->> 'since')::timestamptz > ${since})`;

/**
 * A rollout's tasks in creation order, filtered by derived status and stage, keyset-paged by id; with
 * `changedSince`, only those that changed after it (see changedTaskIds).
 */
export async function taskList(
  db: Db,
  p: { rolloutId: string; statuses?: TaskStatus[]; stageId?: string; changedSince?: Date; limit: number; afterId: string | null },
): Promise<{ tasks: Task[]; more: boolean }> {
  const rollout = await db.selectFrom("rollout").select("id").where("id", "=", p.rolloutId).executeTakeFirst();
  if (!rollout) throw new StoreError("NOT_FOUND", `rollout ${p.rolloutId} not found`);
  let q = db
    .selectFrom("task")
    .select(TASK_COLUMNS)
    .where("rollout_id", "=", p.rolloutId)
    .orderBy("id")
    .limit(p.limit + 1);
  if (p.statuses && p.statuses.length > 0) q = q.where("status", "in", p.statuses);
  if (p.stageId !== undefined) q = q.where("stage_id", "=", p.stageId);
  if (p.changedSince !== undefined) q = q.where(sql<boolean>`id IN (${changedTaskIds(p.rolloutId, p.changedSince)})`);
  if (p.afterId !== null) q = q.where("id", ">", p.afterId);
  const rows = await q.execute();
  return { tasks: await withLatestRuns(db, rows.slice(0, p.limit)), more: rows.length > p.limit };
}

export async function taskGet(db: Db, id: string): Promise<Task | undefined> {
  const rows = await db.selectFrom("task").select(TASK_COLUMNS).where("id", "=", id).execute();
  return (await withLatestRuns(db, rows))[0];
}

/** Every run of a task, latest attempt first. */
export async function taskRunList(db: Db, taskId: string): Promise<TaskRun[]> {
  const task = await db.selectFrom("task").select("id").where("id", "=", taskId).executeTakeFirst();
  if (!task) throw new StoreError("NOT_FOUND", `task ${taskId} not found`);
  const { rows } = await sql<RunRow>`SELECT ${RUN_COLUMNS} FROM task_run r WHERE r.task_id = ${taskId} ORDER BY r.attempt DESC`.execute(db);
  return runsToDto(db, rows);
}

export async function taskRunGet(db: Db, id: string): Promise<TaskRun | undefined> {
  const { rows } = await sql<RunRow>`SELECT ${RUN_COLUMNS} FROM task_run r WHERE r.id = ${id}`.execute(db);
  return (await runsToDto(db, rows))[0];
}

/** A run's log in order of writing, keyset-paged by entry id. */
export async function taskRunLogs(
  db: Db,
  p: { taskRunId: string; limit: number; afterId: string | null },
): Promise<{ entries: LogEntry[]; more: boolean }> {
  const run = await db.selectFrom("task_run").select("id").where("id", "=", p.taskRunId).executeTakeFirst();
  if (!run) throw new StoreError("NOT_FOUND", `task run ${p.taskRunId} not found`);
  let q = db
    .selectFrom("task_run_log")
    .select(["id", "at", "type", "replica_id", "payload"])
    .where("task_run_id", "=", p.taskRunId)
    .orderBy("id")
    .limit(p.limit + 1);
  if (p.afterId !== null) q = q.where("id", ">", p.afterId);
  const rows = await q.execute();
  return {
    more: rows.length > p.limit,
    entries: rows.slice(0, p.limit).map((r) => {
      const { message, ...data } = (r.payload ?? {}) as Record<string, unknown>;
      const text = typeof message === "string" ? message : typeof data.status === "string" ? `status ${data.status}` : r.type;
      const payload = (r.payload ?? {}) as Record<string, unknown>;
      return {
        id: r.id,
        at: r.at.toISOString(),
        type: r.type,
        replicaId: r.replica_id,
        message: text,
        event: logEventOf(r.type, payload),
        data,
      };
    }),
  };
}

/**
 * Runs per active status, for the Prometheus gauge: one count per status, so each can be answered by a
 * partial index of that status alone (task_run_pending_db_idx, task_run_available_fifo_idx, task_run_owner_idx).
 * No index spans the three (migration 0064): each run would enter it three times for the sake of this read.
 */
export async function taskRunsCountActive(db: Db): Promise<Record<"PENDING" | "AVAILABLE" | "RUNNING", number>> {
  const { rows } = await sql<{ PENDING: number; AVAILABLE: number; RUNNING: number }>`
    SELECT (SELECT count(*)::int FROM task_run WHERE status = 'PENDING') AS "PENDING",
      (SELECT count(*)::int FROM task_run WHERE status = ${STATUS_AVAILABLE}) AS "AVAILABLE",
      (SELECT count(*)::int FROM task_run WHERE status = 'RUNNING') AS "RUNNING"`.execute(db);
  const r = rows[0]!;
  return { PENDING: r.PENDING, AVAILABLE: r.AVAILABLE, RUNNING: r.RUNNING };
}
