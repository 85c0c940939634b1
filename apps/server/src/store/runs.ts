import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import type { Db } from "./db.js";
import { notifyChangeOf, runEffects, runEffectsNotify } from "./run-effects.js";

/** A run this replica claimed: everything an executor needs, plus the fencing token (attempt, epoch). */
export interface ClaimedRun {
  id: string;
  /** This installation's id: the target ledger's key is (installation, task). */
  installationId: string;
  taskId: string;
  rolloutId: string;
  attempt: number;
  epoch: number;
  type: TaskType;
  statement: string;
  schemaVersion: string | null;
  instanceId: string;
  connectionUrl: string;
  database: string;
  rerunnable: boolean;
  availableAt: Date;
}

export interface Fence {
  runId: string;
  replicaId: string;
  epoch: number;
}

/**
 * AVAILABLE → RUNNING for up to `limit` runs, oldest first, in one statement. SKIP LOCKED lets replicas
 * claim side by side without waiting on or double-claiming each other's rows.
 */
export async function taskRunsClaim(
  db: Db,
  p: { replicaId: string; limit: number; leaseTtlMs: number; now: Date },
): Promise<ClaimedRun[]> {
  if (p.limit <= 0) return [];
  const { rows } = await sql<{
    id: string; task_id: string; rollout_id: string; attempt: number; lease_epoch: number; type: TaskType;
    statement: string; schema_version: string | null; instance_id: string; connection_url: string;
    database_name: string; rerunnable: boolean; available_at: Date; installation_id: string;
  }>`
    WITH c AS (
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
    )
    SELECT u.id, u.task_id, u.rollout_id, u.attempt, u.lease_epoch, u.rerunnable, u.available_at, t.type, t.statement,
      t.schema_version, t.instance_id, t.database_name, i.connection_url, (SELECT id::text FROM installation) AS installation_id,
      ${notifyChangeOf(sql`u`)} AS notified
    FROM u JOIN t ON t.id = u.task_id JOIN instance i ON i.id = t.instance_id
    ORDER BY u.id`.execute(db);
  return rows.map((r) => ({
    id: r.id, installationId: r.installation_id, taskId: r.task_id, rolloutId: r.rollout_id, attempt: r.attempt, epoch: r.lease_epoch, type: r.type,
    statement: r.statement, schemaVersion: r.schema_version, instanceId: r.instance_id,
    connectionUrl: r.connection_url, database: r.database_name, rerunnable: r.rerunnable, availableAt: r.available_at,
  }));
}

export type FinishStatus = "DONE" | "FAILED" | "CANCELED";

/**
 * RUNNING → DONE/FAILED/CANCELED, a compare-and-set on id + owner + epoch + RUNNING: a replica that lost
 * its lease changes nothing and learns so from the `false` it gets back.
 */
export async function taskRunFinish(
  db: Db,
  p: Fence & { status: FinishStatus; result: unknown; message: string; now: Date; unfenced?: boolean },
): Promise<boolean> {
  // `unfenced` exists only so the chaos harness can prove it catches a missing fence.
  const fence = p.unfenced
    ? sql`id = ${p.runId} AND status IN ('RUNNING', 'AVAILABLE')`
    : sql`id = ${p.runId} AND owner_replica = ${p.replicaId} AND lease_epoch = ${p.epoch} AND status = 'RUNNING'`;
  const { rows } = await sql<{ id: string; rollout_id: string }>`
    WITH f AS (
      UPDATE task_run SET status = ${p.status}, result = ${JSON.stringify(p.result ?? null)}::jsonb,
        finished_at = ${p.now}, updated_at = ${p.now}, lease_expires_at = NULL
      WHERE ${fence}
      RETURNING id, task_id, rollout_id, instance_id, database_name, sequential, schema_version_key, status,
        true AS left_active, ${p.message}::text AS message
    ) ${runEffects(p.now, p.replicaId)}
    SELECT id, rollout_id, ${runEffectsNotify()} FROM f`.execute(db);
  return rows.length > 0;
}

/** Appends a log entry only while the fence holds (same CAS as every other write of the owner). */
export async function taskRunAppendLog(
  db: Db,
  p: Fence & { type: string; payload: Record<string, unknown>; now: Date },
): Promise<boolean> {
  const res = await sql`
    INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
    SELECT id, ${p.now}, ${p.type}, ${p.replicaId}, ${JSON.stringify(p.payload)}::jsonb FROM task_run
    WHERE id = ${p.runId} AND owner_replica = ${p.replicaId} AND lease_epoch = ${p.epoch} AND status = 'RUNNING'`.execute(db);
  return Number(res.numAffectedRows ?? 0) === 1;
}

/**
 * Renews the leases of this replica's runs and reports, per run, whether it still owns it and whether a
 * cancel was requested (the backstop when a NOTIFY was missed).
 */
export async function taskRunsRenewLeases(
  db: Db,
  p: { replicaId: string; runs: { runId: string; epoch: number }[]; leaseTtlMs: number; now: Date },
): Promise<Map<string, { owned: boolean; cancelRequested: boolean }>> {
  const out = new Map<string, { owned: boolean; cancelRequested: boolean }>();
  for (const r of p.runs) out.set(r.runId, { owned: false, cancelRequested: false });
  if (p.runs.length === 0) return out;
  const { rows } = await sql<{ id: string; cancel: boolean }>`
    UPDATE task_run t SET lease_expires_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseTtlMs / 1000})
    FROM unnest(${p.runs.map((r) => r.runId)}::bigint[], ${p.runs.map((r) => r.epoch)}::int[]) AS x(id, epoch)
    WHERE t.id = x.id AND t.lease_epoch = x.epoch AND t.owner_replica = ${p.replicaId} AND t.status = 'RUNNING'
    RETURNING t.id, t.cancel_requested_at IS NOT NULL AS cancel`.execute(db);
  for (const r of rows) out.set(r.id, { owned: true, cancelRequested: r.cancel });
  return out;
}

/**
 * RUNNING runs whose lease expired: back to AVAILABLE when re-running is safe (the target's ledger makes
 * it a no-op if the statement did commit), otherwise FAILED. The caller holds the sweep lock.
 */
export async function taskRunsSweepExpired(db: Db, p: { now: Date; replicaId: string }): Promise<{ requeued: number; failed: number }> {
  const { rows } = await sql<{ status: string; rollout_id: string }>`
    WITH x AS (
      SELECT id, owner_replica, rerunnable, cancel_requested_at IS NOT NULL AS cancel FROM task_run
      WHERE status = 'RUNNING' AND lease_expires_at < ${p.now}
      ORDER BY id FOR UPDATE SKIP LOCKED
    ), f AS (
      UPDATE task_run r SET
        status = CASE WHEN x.cancel THEN 'CANCELED' WHEN x.rerunnable THEN 'AVAILABLE' ELSE 'FAILED' END,
        owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
        finished_at = CASE WHEN x.rerunnable AND NOT x.cancel THEN NULL ELSE ${p.now}::timestamptz END,
        result = CASE WHEN x.rerunnable OR x.cancel THEN r.result ELSE jsonb_build_object('error', jsonb_build_object(
          'message', 'owning replica stopped responding', 'replicaId', x.owner_replica)) END
      FROM x WHERE r.id = x.id AND r.status = 'RUNNING'
      RETURNING r.id, r.task_id, r.rollout_id, r.instance_id, r.database_name, r.sequential, r.schema_version_key,
        r.status, r.status <> 'AVAILABLE' AS left_active,
        CASE WHEN r.status = 'AVAILABLE' THEN 'lease of replica ' || x.owner_replica || ' expired; run requeued'
             WHEN r.status = 'CANCELED' THEN 'lease of replica ' || x.owner_replica || ' expired while cancel was requested'
             ELSE 'owning replica stopped responding: ' || x.owner_replica END AS message
    ) ${runEffects(p.now, p.replicaId)}
    SELECT status, rollout_id, ${runEffectsNotify()} FROM f`.execute(db);
  const requeued = rows.filter((r) => r.status === "AVAILABLE").length;
  return { requeued, failed: rows.length - requeued };
}

/** Marks the run's cancel as requested if it is RUNNING (used by the cancel API through the owner). */
export async function taskRunCancelRequested(db: Db, runId: string): Promise<Date | null> {
  const { rows } = await sql<{ at: Date | null }>`SELECT cancel_requested_at AS at FROM task_run WHERE id = ${runId}`.execute(db);
  return rows[0]?.at ?? null;
}

/**
 * Gives a RUNNING run back (the draining replica aborted it): AVAILABLE when re-running is safe,
 * otherwise FAILED. Fenced like every owner write.
 */
export async function taskRunRelease(db: Db, p: Fence & { now: Date; reason: string }): Promise<boolean> {
  const { rows } = await sql<{ rollout_id: string; status: string }>`
    WITH f AS (
      UPDATE task_run SET status = CASE WHEN rerunnable THEN 'AVAILABLE' ELSE 'FAILED' END,
        owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
        finished_at = CASE WHEN rerunnable THEN NULL ELSE ${p.now}::timestamptz END,
        result = CASE WHEN rerunnable THEN result ELSE jsonb_build_object('error', jsonb_build_object('message', ${p.reason}::text)) END
      WHERE id = ${p.runId} AND owner_replica = ${p.replicaId} AND lease_epoch = ${p.epoch} AND status = 'RUNNING'
      RETURNING id, task_id, rollout_id, instance_id, database_name, sequential, schema_version_key, status,
        status <> 'AVAILABLE' AS left_active, ${p.reason}::text AS message
    ) ${runEffects(p.now, p.replicaId)}
    SELECT rollout_id, status, ${runEffectsNotify()} FROM f`.execute(db);
  return rows.length > 0;
}
