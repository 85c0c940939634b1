import { sql, type RawBuilder } from "kysely";
import type { TaskType } from "@runway/shared";
import { runEffects } from "./run-effects.js";
import type { ClaimedRun, Finish } from "./runs.js";

/**
 * CTE bodies of the running scheduler's two hot statements, so they can run alone (taskRunsClaim,
 * taskRunsFinish) or together in one statement (taskRunsFinishAndClaim: a finished run's slot is refilled
 * in the same round trip and commit).
 */

export interface ClaimParams {
  replicaId: string;
  limit: number;
  leaseTtlMs: number;
  now: Date;
}

/** CTEs c, u, t, l: AVAILABLE → RUNNING for up to `limit` runs, oldest first, SKIP LOCKED. */
export function claimCtes(p: ClaimParams): RawBuilder<unknown> {
  return sql`
    c AS (
      SELECT id, updated_at FROM task_run WHERE status = 'AVAILABLE'
      ORDER BY id LIMIT ${p.limit} FOR UPDATE SKIP LOCKED
    ), u AS (
      UPDATE task_run r SET status = 'RUNNING', owner_replica = ${p.replicaId}, lease_epoch = r.lease_epoch + 1,
        lease_expires_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseTtlMs / 1000}),
        started_at = coalesce(r.started_at, ${p.now}), updated_at = ${p.now}
      FROM c WHERE r.id = c.id
      RETURNING r.id, r.task_id, r.rollout_id, r.attempt, r.lease_epoch, r.rerunnable, c.updated_at AS available_at
    ), t AS (
      UPDATE task SET status = 'RUNNING', updated_at = ${p.now} FROM u WHERE task.id = u.task_id
      RETURNING task.id, task.type, task.statement, task.schema_version, task.instance_id, task.database_name
    ), l AS (
      INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
      SELECT u.id, ${p.now}, 'STATUS', ${p.replicaId}, jsonb_build_object('status', 'RUNNING', 'epoch', u.lease_epoch) FROM u
    )`;
}

/** The claimed runs of claimCtes as one JSON array (ids as text: bigints exceed JSON numbers in principle). */
export const claimedJson = sql`(
  SELECT coalesce(json_agg(json_build_object(
    'id', u.id::text, 'task_id', u.task_id::text, 'rollout_id', u.rollout_id::text, 'attempt', u.attempt,
    'lease_epoch', u.lease_epoch, 'rerunnable', u.rerunnable, 'available_at', u.available_at, 'type', t.type,
    'statement', t.statement, 'schema_version', t.schema_version, 'instance_id', t.instance_id,
    'database_name', t.database_name, 'connection_url', i.connection_url) ORDER BY u.id), '[]')
  FROM u JOIN t ON t.id = u.task_id JOIN instance i ON i.id = t.instance_id)`;

export interface ClaimedJson {
  id: string; task_id: string; rollout_id: string; attempt: number; lease_epoch: number; rerunnable: boolean;
  available_at: string; type: TaskType; statement: string; schema_version: string | null; instance_id: string;
  database_name: string; connection_url: string;
}

export function toClaimed(r: ClaimedJson, installationId: string): ClaimedRun {
  return {
    id: r.id, installationId, taskId: r.task_id, rolloutId: r.rollout_id, attempt: r.attempt, epoch: r.lease_epoch, type: r.type,
    statement: r.statement, schemaVersion: r.schema_version, instanceId: r.instance_id, connectionUrl: r.connection_url,
    database: r.database_name, rerunnable: r.rerunnable, availableAt: new Date(r.available_at),
  };
}

/**
 * CTEs x, f and runEffects' eff_*: RUNNING → DONE/FAILED/CANCELED for each item, a compare-and-set on
 * id + owner + epoch + RUNNING (`unfenced` only for the chaos harness's proof that it catches a missing
 * fence). All items come from one replica.
 */
export function finishCtes(items: Finish[], p: { now: Date; unfenced?: boolean }): RawBuilder<unknown> {
  const fence = p.unfenced
    ? sql`r.status IN ('RUNNING', 'AVAILABLE')`
    : sql`r.owner_replica = x.replica AND r.lease_epoch = x.epoch AND r.status = 'RUNNING'`;
  return sql`
    x AS (
      SELECT * FROM unnest(${items.map((i) => i.runId)}::bigint[], ${items.map((i) => i.replicaId)}::text[], ${items.map((i) => i.epoch)}::int[],
        ${items.map((i) => i.status)}::text[], ${items.map((i) => JSON.stringify(i.result ?? null))}::jsonb[], ${items.map((i) => i.message)}::text[])
        AS x(id, replica, epoch, status, result, message)
    ), f AS (
      UPDATE task_run r SET status = x.status, result = x.result,
        finished_at = ${p.now}, updated_at = ${p.now}, lease_expires_at = NULL
      FROM x WHERE r.id = x.id AND ${fence}
      RETURNING r.id, r.task_id, r.rollout_id, r.instance_id, r.database_name, r.sequential, r.schema_version_key, r.status,
        true AS left_active, x.message
    ) ${runEffects(p.now, items[0]?.replicaId ?? null)}`;
}
