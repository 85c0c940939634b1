import { sql, type RawBuilder } from "kysely";
import { TASK_STATUS_ORDER } from "@runway/shared";
import type { TaskFilter, TaskSortKey } from "@runway/shared/schemas";

/**
 * The one translation of a TaskFilter into SQL: lists, the CSV export, failure groups and bulk actions by
 * filter all call this, so "the tasks this view shows" means the same rows everywhere. The task table is
 * aliased `t`. Every condition is scoped to one rollout first, so the rollout's index bounds the scan.
 */
export function taskFilterSql(rolloutId: string, f: TaskFilter): RawBuilder<boolean> {
  const conds: RawBuilder<unknown>[] = [sql`t.rollout_id = ${rolloutId}`];
  if (f.status && f.status.length > 0) conds.push(sql`t.status = ANY(${[...f.status]}::text[])`);
  if (f.stageId !== undefined) conds.push(sql`t.stage_id = ${f.stageId}`);
  if (f.instanceId !== undefined) conds.push(sql`t.instance_id = ${f.instanceId}`);
  if (f.database !== undefined) conds.push(sql`t.database_name = ${f.database}`);
  if (f.type !== undefined) conds.push(sql`t.type = ${f.type}`);
  if (f.errorCode !== undefined) {
    // Only a FAILED task's latest run carries the error that failed it; the status test runs first, so the
    // latest run is looked up for failed tasks only.
    const code = sql`${latestResult} #>> '{error,code}'`;
    conds.push(sql`t.status = 'FAILED'`);
    conds.push(f.errorCode === "none" ? sql`${code} IS NULL` : sql`${code} = ${f.errorCode}`);
  }
  const q = f.q?.trim();
  if (q) conds.push(searchSql(q));
  return sql<boolean>`(${sql.join(conds, sql` AND `)})`;
}

/** The latest run's result of task `t` (one probe of task_run's (task_id, attempt) key). */
export const latestResult = sql`(SELECT r.result FROM task_run r WHERE r.task_id = t.id ORDER BY r.attempt DESC LIMIT 1)`;

/** Substring match, any case; `%`, `_` and `\` in the search are literal. */
export const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function searchSql(q: string): RawBuilder<unknown> {
  const p = likePattern(q);
  const alts: RawBuilder<unknown>[] = [
    sql`t.database_name ILIKE ${p}`,
    sql`t.schema_version ILIKE ${p}`,
    sql`t.statement ILIKE ${p}`,
    // Errors live on finished runs only; the cheap status test keeps the run lookup off every other task.
    sql`(t.status IN ('FAILED', 'CANCELED') AND ${latestResult} #>> '{error,message}' ILIKE ${p})`,
  ];
  const id = /^#?([1-9][0-9]{0,17})$/.exec(q);
  if (id) alts.unshift(sql`t.id = ${id[1]}`);
  return sql`(${sql.join(alts, sql` OR `)})`;
}

/** Sorting by a run column needs the latest run joined (as `lr`); the others read the task row only. */
export const sortNeedsLatestRun = (key: TaskSortKey) => key === "started" || key === "finished" || key === "duration";

export const LATEST_RUN_JOIN = sql`LEFT JOIN LATERAL (
  SELECT r.started_at, r.finished_at FROM task_run r WHERE r.task_id = t.id ORDER BY r.attempt DESC LIMIT 1) lr ON true`;

/** ORDER BY for a sort column; ties (and NULLs, always last) fall back to the task id in the same direction. */
export function taskOrderSql(key: TaskSortKey, order: "asc" | "desc"): RawBuilder<unknown> {
  const dir = order === "desc" ? sql`DESC` : sql`ASC`;
  const then = (...exprs: RawBuilder<unknown>[]) => sql.join([...exprs.map((e) => sql`${e} ${dir} NULLS LAST`), sql`t.id ${dir}`]);
  switch (key) {
    case "id":
      return sql`t.id ${dir}`;
    case "database":
      return then(sql`t.instance_id`, sql`t.database_name`);
    case "type":
      return then(sql`t.type`);
    case "schemaVersion":
      return then(sql`t.schema_version_key`);
    case "status":
      return then(sql`array_position(${[...TASK_STATUS_ORDER]}::text[], t.status)`);
    case "stage":
      return then(sql`t.stage_id`);
    case "started":
      return then(sql`lr.started_at`);
    case "finished":
      return then(sql`lr.finished_at`);
    case "duration":
      return then(sql`lr.finished_at - lr.started_at`);
  }
}
