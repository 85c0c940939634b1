import { sql } from "kysely";
import type { FailureGroup, Task, TaskFilter, TaskSortKey } from "@runway/shared/schemas";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { withLatestRuns, type TaskRow } from "./task-reads.js";
import { LATEST_RUN_JOIN, latestResult, sortNeedsLatestRun, taskFilterSql, taskOrderSql } from "./task-filter.js";

/** Where the next page starts: after a task id (sorted by id), or past a number of rows (other sorts). */
export type TaskPosition = { afterId: string } | { offset: number } | null;

export interface TaskQuery {
  rolloutId: string;
  filter: TaskFilter;
  sort: TaskSortKey;
  order: "asc" | "desc";
  limit: number;
  position: TaskPosition;
}

const COLUMNS = sql`t.id, t.rollout_id, t.stage_id, t.type, t.instance_id, t.database_name, t.schema_version, t.statement, t.status, t.skip_reason`;

async function assertRollout(db: Db, rolloutId: string): Promise<void> {
  const rollout = await db.selectFrom("rollout").select("id").where("id", "=", rolloutId).executeTakeFirst();
  if (!rollout) throw new StoreError("NOT_FOUND", `rollout ${rolloutId} not found`);
}

async function taskRows(db: Db, p: TaskQuery): Promise<TaskRow[]> {
  const where = [taskFilterSql(p.rolloutId, p.filter)];
  // Sorted by id, pages are a keyset (stable while tasks change status); other sorts page by offset.
  if (p.position && "afterId" in p.position)
    where.push(p.order === "desc" ? sql`t.id < ${p.position.afterId}` : sql`t.id > ${p.position.afterId}`);
  const offset = p.position && "offset" in p.position ? p.position.offset : 0;
  const { rows } = await sql<TaskRow>`
    SELECT ${COLUMNS} FROM task t ${sortNeedsLatestRun(p.sort) ? LATEST_RUN_JOIN : sql``}
    WHERE ${sql.join(where, sql` AND `)}
    ORDER BY ${taskOrderSql(p.sort, p.order)}
    LIMIT ${p.limit + 1} OFFSET ${offset}`.execute(db);
  return rows;
}

/** A page of a rollout's tasks matching a filter, sorted, with their latest runs. */
export async function taskQuery(db: Db, p: TaskQuery): Promise<{ tasks: Task[]; more: boolean; next: TaskPosition }> {
  await assertRollout(db, p.rolloutId);
  const rows = await taskRows(db, p);
  const more = rows.length > p.limit;
  const page = rows.slice(0, p.limit);
  const last = page[page.length - 1];
  let next: TaskPosition = null;
  if (more && last) {
    next = p.sort === "id" ? { afterId: last.id } : { offset: (p.position && "offset" in p.position ? p.position.offset : 0) + p.limit };
  }
  return { tasks: await withLatestRuns(db, page), more, next };
}

/** How many of a rollout's tasks match a filter. */
export async function taskCount(db: Db, rolloutId: string, filter: TaskFilter): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM task t WHERE ${taskFilterSql(rolloutId, filter)}`.execute(db);
  return rows[0]?.n ?? 0;
}

/** Every matching task, page by page (for a streamed export); the rollout is checked before the first row. */
export async function* taskQueryAll(db: Db, p: Omit<TaskQuery, "position" | "limit">, pageSize = 1000): AsyncGenerator<Task[]> {
  let position: TaskPosition = null;
  for (;;) {
    const page = await taskQuery(db, { ...p, limit: pageSize, position });
    if (page.tasks.length > 0) yield page.tasks;
    if (!page.more) return;
    position = page.next;
  }
}

/** The rollout's stage environments by stage id (the export names stages, not ids). */
export async function stageNames(db: Db, rolloutId: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom("stage").select(["id", "environment"]).where("rollout_id", "=", rolloutId).execute();
  return new Map(rows.map((r) => [r.id, r.environment]));
}

/**
 * The filter's FAILED tasks grouped by the SQLSTATE of their latest run (`none` without one), biggest group
 * first, each with one of its messages. Messages name tables and values, so the code is the group.
 */
export async function taskFailureGroups(db: Db, rolloutId: string, filter: TaskFilter): Promise<FailureGroup[]> {
  await assertRollout(db, rolloutId);
  const { rows } = await sql<{ code: string; message: string | null; n: number }>`
    SELECT coalesce(e.result #>> '{error,code}', 'none') AS code, min(e.result #>> '{error,message}') AS message, count(*)::int AS n
    FROM task t CROSS JOIN LATERAL (SELECT ${latestResult} AS result) e
    WHERE ${taskFilterSql(rolloutId, filter)} AND t.status = 'FAILED'
    GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 200`.execute(db);
  return rows.map((r) => ({ errorCode: r.code, message: r.message ?? "", count: r.n }));
}
