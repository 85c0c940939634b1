import type pg from "pg";
import type { Api } from "./api.js";
import type { LogRow, RunRow, TaskRow } from "./facts.js";
import type { Submitted } from "./driver.js";
import { waitFor } from "./wait.js";
import type { Workload } from "./workload.js";

/** Reads what the checks need from the control database. */
export async function readControl(control: pg.Pool): Promise<{ tasks: TaskRow[]; runs: RunRow[]; logs: LogRow[] }> {
  const tasks = await control.query(`
    SELECT t.id, t.rollout_id, t.type, t.database_name, t.schema_version, t.status, p.parallel_tasks_per_rollout AS lim
    FROM task t JOIN rollout r ON r.id = t.rollout_id JOIN project p ON p.id = r.project_id ORDER BY t.id`);
  const runs = await control.query(`SELECT id, task_id, attempt, status, run_at, result FROM task_run ORDER BY id`);
  const logs = await control.query(`SELECT task_run_id, at, type, replica_id, payload FROM task_run_log ORDER BY id`);
  return {
    tasks: tasks.rows.map((r) => ({
      id: r.id,
      rolloutId: r.rollout_id,
      type: r.type,
      database: r.database_name,
      schemaVersion: r.schema_version,
      status: r.status,
      limit: r.lim,
    })),
    runs: runs.rows.map((r) => ({ id: r.id, taskId: r.task_id, attempt: r.attempt, status: r.status, runAt: r.run_at, result: r.result })),
    logs: logs.rows.map((r) => ({ runId: r.task_run_id, at: r.at, type: r.type, replica: r.replica_id, payload: r.payload ?? {} })),
  };
}

export const OWNER_LOST = "owning replica stopped responding";

/**
 * Waits until nothing is PENDING, AVAILABLE or RUNNING. A non-re-runnable task whose run failed because
 * its owner died (by design: recovery never re-runs it) is retried through the API, as an operator would.
 * Returns false when the deadline passed first (the no-loss check then reports what is left).
 */
export async function quiesce(
  control: pg.Pool,
  api: Api,
  w: Workload,
  s: Submitted,
  retries: string[],
  timeoutMs: number,
): Promise<boolean> {
  const nontx = new Set(w.tasks.filter((t) => t.kind === "nontx" || t.kind === "cic").map((t) => s.taskIdByKey.get(t.key)!));
  let calm = 0;
  let stuck = 0;
  try {
    await waitFor(
      "quiescence (no PENDING, AVAILABLE or RUNNING run)",
      timeoutMs,
      async () => {
        const lost = await control.query<{ task_id: string; rollout_id: string }>(
          `SELECT r.task_id, r.rollout_id FROM task_run r JOIN task t ON t.id = r.task_id AND t.status = 'FAILED'
         WHERE r.status = 'FAILED' AND r.result->'error'->>'message' = $1
           AND r.attempt = (SELECT max(attempt) FROM task_run x WHERE x.task_id = r.task_id)`,
          [OWNER_LOST],
        );
        const toRetry = lost.rows.filter((r) => nontx.has(r.task_id));
        for (const row of toRetry) {
          await api.must("POST", `/rollouts/${row.rollout_id}/tasks/run`, { taskIds: [row.task_id] });
          retries.push(s.keyByTaskId.get(row.task_id)!);
        }
        const { rows } = await control.query<{ running: string; pending: string; version_held: string }>(`
        SELECT count(*) FILTER (WHERE r.status IN ('AVAILABLE', 'RUNNING')) AS running,
               count(*) FILTER (WHERE r.status = 'PENDING') AS pending,
               count(*) FILTER (WHERE r.status = 'PENDING' AND w.type = 'VERSION_ORDER') AS version_held
        FROM task_run r LEFT JOIN task_run_wait w ON w.run_id = r.id
        WHERE r.status IN ('PENDING', 'AVAILABLE', 'RUNNING')`);
        const n = { running: Number(rows[0]!.running), pending: Number(rows[0]!.pending), held: Number(rows[0]!.version_held) };
        // Two quiet polls in a row: a retry or a late write cannot slip between them unseen.
        calm = n.running + n.pending === 0 && toRetry.length === 0 ? calm + 1 : 0;
        // Nothing can move any more: every run left waits on a version that will never be DONE (its task
        // failed or was canceled). Stop waiting; the no-loss check reports them.
        stuck = n.running === 0 && n.pending > 0 && n.held === n.pending && toRetry.length === 0 ? stuck + 1 : 0;
        return calm >= 2 || stuck >= 6;
      },
      500,
    );
    return calm >= 2;
  } catch {
    return false;
  }
}
