import type pg from "pg";
import { compareVersions, type TaskType } from "@runway/shared";

/**
 * The store calls the reference plan's pending scheduler makes (`ListTaskRuns`, `GetTaskByID`,
 * `FindBlockingTaskByVersion`, `GetPlan`, `GetProject`, `UpdateTaskRunStatus`, `CreateTaskRunLogS`), each
 * one SQL statement on Runway's schema, as the Go store issues them: one call, one round trip, no cache.
 * Where our schema offers a cheaper equivalent (the run's copied rollout id, an indexed column) the port
 * uses it, so the baseline is, if anything, flattered.
 */

export interface BaselineRun {
  id: string;
  taskId: string;
  status: string;
  runAt: Date | null;
  createdAt: Date;
}

export interface BaselineTask {
  id: string;
  /** The reference's plan: a rollout here. */
  planId: string;
  instanceId: string;
  databaseName: string;
  type: TaskType;
  schemaVersion: string | null;
}

export class BaselineStore {
  /** SQL statements issued (the baseline's cost model: one per call). */
  statements = 0;

  constructor(private readonly client: pg.ClientBase) {}

  private async q<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    this.statements++;
    return (await this.client.query<R>(text, values)).rows;
  }

  /** `ListTaskRuns`: full run rows in the given statuses (optionally of one plan), by id. */
  async listTaskRuns(f: { statuses: string[]; planId?: string }): Promise<BaselineRun[]> {
    const rows = await this.q<{ id: string; task_id: string; status: string; run_at: Date | null; created_at: Date }>(
      `SELECT id, task_id, attempt, status, run_at, created_at, updated_at, started_at, finished_at, created_by,
         owner_replica, result
       FROM task_run WHERE status = ANY($1::text[]) ${f.planId !== undefined ? "AND rollout_id = $2" : ""} ORDER BY id`,
      f.planId !== undefined ? [f.statuses, f.planId] : [f.statuses],
    );
    return rows.map((r) => ({ id: r.id, taskId: r.task_id, status: r.status, runAt: r.run_at, createdAt: r.created_at }));
  }

  /** `GetTaskByID`. */
  async getTaskById(id: string): Promise<BaselineTask | null> {
    const rows = await this.q<{
      id: string;
      rollout_id: string;
      instance_id: string;
      database_name: string;
      type: TaskType;
      schema_version: string | null;
    }>(
      `SELECT id, rollout_id, stage_id, instance_id, database_name, type, statement, schema_version, skipped, status
       FROM task WHERE id = $1`,
      [id],
    );
    const r = rows[0];
    return r
      ? {
          id: r.id,
          planId: r.rollout_id,
          instanceId: r.instance_id,
          databaseName: r.database_name,
          type: r.type,
          schemaVersion: r.schema_version,
        }
      : null;
  }

  /**
   * `FindBlockingTaskByVersion`: the versioned, unskipped tasks on the database whose latest run is not
   * DONE (the reference's LATERAL subquery), then the first with a smaller version, compared in the
   * application. The reference scoped this to one plan; Runway's gate spans every rollout, so this does too
   * (otherwise the two would not decide alike).
   */
  async findBlockingTaskByVersion(instanceId: string, databaseName: string, version: string): Promise<string | null> {
    const rows = await this.q<{ id: string; schema_version: string }>(
      `SELECT task.id, task.schema_version FROM task
       LEFT JOIN LATERAL (
         SELECT coalesce((SELECT r.status FROM task_run r WHERE r.task_id = task.id ORDER BY r.id DESC LIMIT 1), 'NOT_STARTED') AS status
       ) latest ON true
       WHERE task.instance_id = $1 AND task.database_name = $2 AND task.schema_version IS NOT NULL
         AND NOT task.skipped AND latest.status <> 'DONE'
       ORDER BY task.id`,
      [instanceId, databaseName],
    );
    for (const r of rows) if (compareVersions(r.schema_version, version) < 0) return r.id;
    return null;
  }

  /** `GetPlan`: the rollout, for its project. */
  async getPlan(id: string): Promise<{ id: string; projectId: string } | null> {
    const rows = await this.q<{ id: string; project_id: string }>(
      `SELECT id, project_id, title, created_by, created_at FROM rollout WHERE id = $1`,
      [id],
    );
    return rows[0] ? { id: rows[0].id, projectId: rows[0].project_id } : null;
  }

  /** `GetProject`: for its parallel-tasks-per-rollout setting. */
  async getProject(id: string): Promise<{ id: string; parallelTasksPerRollout: number } | null> {
    const rows = await this.q<{ id: string; parallel_tasks_per_rollout: number }>(
      `SELECT id, title, parallel_tasks_per_rollout, deleted FROM project WHERE id = $1`,
      [id],
    );
    return rows[0] ? { id: rows[0].id, parallelTasksPerRollout: rows[0].parallel_tasks_per_rollout } : null;
  }

  /** `UpdateTaskRunStatus` to AVAILABLE (keeping Runway's derived task status in step, as our schema requires). */
  async updateTaskRunStatusAvailable(runId: string, now: Date): Promise<void> {
    await this.q(
      `WITH r AS (UPDATE task_run SET status = 'AVAILABLE', updated_at = $2 WHERE id = $1 AND status = 'PENDING' RETURNING task_id)
       UPDATE task SET status = 'AVAILABLE', updated_at = $2 FROM r WHERE task.id = r.task_id`,
      [runId, now],
    );
  }

  /** `CreateTaskRunLogS`. */
  async createTaskRunLog(runId: string, now: Date, replicaId: string): Promise<void> {
    await this.q(
      `INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload) VALUES ($1, $2, 'STATUS', $3, '{"status":"AVAILABLE"}')`,
      [runId, now, replicaId],
    );
  }

  /** The reference tickles its running scheduler in memory; running schedulers in other replicas need a NOTIFY. */
  async tickleRunningScheduler(): Promise<void> {
    await this.q(`SELECT pg_notify('runway_available', '')`);
  }
}
