import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { connectionUrlOf, type RunRef } from "./runs.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../domain/auto-retry.js";

/**
 * A project's automatic-retry settings (project_retry_policy). A project without a row has the defaults;
 * the claim reads the same table (transitions/owner.ts), so a change applies to the next claimed run.
 */

interface PolicyRow {
  lock_timeout_ms: number;
  max_auto_retries: number;
  backoff_base_ms: number;
  backoff_max_ms: number;
}

const toPolicy = (r: PolicyRow): RetryPolicy => ({
  lockTimeoutMs: r.lock_timeout_ms,
  maxAutoRetries: r.max_auto_retries,
  backoffBaseMs: r.backoff_base_ms,
  backoffMaxMs: r.backoff_max_ms,
});

export async function retryPolicyGet(db: Db, projectId: string): Promise<RetryPolicy> {
  const { rows } = await sql<PolicyRow & { found: boolean }>`
    SELECT rp.lock_timeout_ms, rp.max_auto_retries, rp.backoff_base_ms, rp.backoff_max_ms, rp.project_id IS NOT NULL AS found
    FROM project p LEFT JOIN project_retry_policy rp ON rp.project_id = p.id
    WHERE p.id = ${projectId} AND NOT p.deleted`.execute(db);
  const row = rows[0];
  if (!row) throw new StoreError("NOT_FOUND", `project "${projectId}" not found`);
  return row.found ? toPolicy(row) : { ...DEFAULT_RETRY_POLICY };
}

/** Changes some settings; the others keep their current (or default) values. Returns the result. */
export async function retryPolicyUpdate(
  db: Db,
  p: { projectId: string; patch: Partial<RetryPolicy>; actor: string; now: Date },
): Promise<RetryPolicy> {
  const d = DEFAULT_RETRY_POLICY;
  const v = (x: number | undefined) => (x === undefined ? null : x);
  const { rows } = await sql<PolicyRow>`
    INSERT INTO project_retry_policy AS rp (project_id, lock_timeout_ms, max_auto_retries, backoff_base_ms, backoff_max_ms, updated_at, updated_by)
    SELECT p.id, coalesce(${v(p.patch.lockTimeoutMs)}::int, ${d.lockTimeoutMs}), coalesce(${v(p.patch.maxAutoRetries)}::int, ${d.maxAutoRetries}),
      coalesce(${v(p.patch.backoffBaseMs)}::int, ${d.backoffBaseMs}), coalesce(${v(p.patch.backoffMaxMs)}::int, ${d.backoffMaxMs}),
      ${p.now}, ${p.actor}
    FROM project p WHERE p.id = ${p.projectId} AND NOT p.deleted
    ON CONFLICT (project_id) DO UPDATE SET
      lock_timeout_ms = coalesce(${v(p.patch.lockTimeoutMs)}::int, rp.lock_timeout_ms),
      max_auto_retries = coalesce(${v(p.patch.maxAutoRetries)}::int, rp.max_auto_retries),
      backoff_base_ms = coalesce(${v(p.patch.backoffBaseMs)}::int, rp.backoff_base_ms),
      backoff_max_ms = coalesce(${v(p.patch.backoffMaxMs)}::int, rp.backoff_max_ms),
      updated_at = excluded.updated_at, updated_by = excluded.updated_by
    RETURNING rp.lock_timeout_ms, rp.max_auto_retries, rp.backoff_base_ms, rp.backoff_max_ms`.execute(db);
  const row = rows[0];
  if (!row) throw new StoreError("NOT_FOUND", `project "${p.projectId}" not found`);
  return toPolicy(row);
}

/** A run as the session view needs it: its status and, while RUNNING, how to find its session on the target. */
export interface RunTarget extends RunRef {
  status: string;
}

export async function taskRunTarget(db: Db, runId: string): Promise<RunTarget | undefined> {
  const { rows } = await sql<{
    id: string;
    task_id: string;
    attempt: number;
    lease_epoch: number;
    status: string;
    type: TaskType;
    connection_url: string;
    database_name: string;
    installation_id: string;
  }>`
    SELECT r.id, r.task_id, r.attempt, r.lease_epoch, r.status, t.type, i.connection_url, r.database_name,
      (SELECT id::text FROM installation) AS installation_id
    FROM task_run r JOIN task t ON t.id = r.task_id JOIN instance i ON i.id = r.instance_id
    WHERE r.id = ${runId}`.execute(db);
  const r = rows[0];
  return (
    r && {
      id: r.id,
      installationId: r.installation_id,
      taskId: r.task_id,
      attempt: r.attempt,
      epoch: r.lease_epoch,
      type: r.type,
      connectionUrl: connectionUrlOf(r.connection_url),
      database: r.database_name,
      status: r.status,
    }
  );
}
