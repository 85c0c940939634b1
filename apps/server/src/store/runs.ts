import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import type { Db } from "./db.js";
import { notifyChangeOf, runEffects, runEffectsNotify } from "./run-effects.js";
import { claimCtes, claimedJson, finishCtes, toClaimed, type ClaimParams, type ClaimedJson } from "./run-statements.js";

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
export async function taskRunsClaim(db: Db, p: ClaimParams): Promise<ClaimedRun[]> {
  if (p.limit <= 0) return [];
  const { rows } = await sql<{ claimed: ClaimedJson[]; installation_id: string }>`
    WITH ${claimCtes(p)}
    SELECT ${claimedJson} AS claimed, (SELECT id::text FROM installation) AS installation_id, ${notifyChangeOf(sql`u`)} AS notified`.execute(db);
  const row = rows[0]!;
  return row.claimed.map((r) => toClaimed(r, row.installation_id));
}

export type FinishStatus = "DONE" | "FAILED" | "CANCELED";

export interface Finish extends Fence {
  status: FinishStatus;
  result: unknown;
  message: string;
}

/**
 * RUNNING → DONE/FAILED/CANCELED, a compare-and-set on id + owner + epoch + RUNNING: a replica that lost
 * its lease changes nothing and learns so from the `false` it gets back.
 */
export async function taskRunFinish(
  db: Db,
  p: Finish & { now: Date; unfenced?: boolean },
): Promise<boolean> {
  const written = await taskRunsFinish(db, [p], { now: p.now, ...(p.unfenced ? { unfenced: true } : {}) });
  return written.has(p.runId);
}

/**
 * taskRunFinish for many runs in one statement (the running scheduler batches outcomes that arrive
 * while a write is in flight). Each run has its own fence; returns the ids written.
 */
export async function taskRunsFinish(db: Db, items: Finish[], p: { now: Date; unfenced?: boolean }): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    WITH ${finishCtes(items, p)}
    SELECT id, ${runEffectsNotify()} FROM f`.execute(db);
  return new Set(rows.map((r) => r.id));
}

/**
 * taskRunsFinish and taskRunsClaim in one statement: the slots the finished runs free are refilled in
 * the same round trip and commit. `claim.limit` may be 0.
 */
export async function taskRunsFinishAndClaim(
  db: Db,
  items: Finish[],
  p: { now: Date; unfenced?: boolean; claim: ClaimParams },
): Promise<{ written: Set<string>; claimed: ClaimedRun[] }> {
  if (p.claim.limit <= 0) return { written: await taskRunsFinish(db, items, p), claimed: [] };
  const { rows } = await sql<{ finished: string[]; claimed: ClaimedJson[]; installation_id: string }>`
    WITH ${finishCtes(items, p)}, ${claimCtes(p.claim)}
    SELECT (SELECT coalesce(json_agg(f.id::text), '[]') FROM f) AS finished, ${claimedJson} AS claimed,
      (SELECT id::text FROM installation) AS installation_id, ${runEffectsNotify(sql`u`)}`.execute(db);
  const row = rows[0]!;
  return { written: new Set(row.finished), claimed: row.claimed.map((r) => toClaimed(r, row.installation_id)) };
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

export interface LeaseState {
  owned: boolean;
  cancelRequested: boolean;
  /**
   * Still ours, but another transaction holds the row lock (e.g. a cancel in progress on a replica that
   * froze inside it): not renewed this time, and not to be read as lost. Skipping it keeps one locked row
   * from holding up the renewal of every other lease of this replica.
   */
  locked: boolean;
}

/**
 * Renews the leases of this replica's runs and reports, per run, whether it still owns it and whether a
 * cancel was requested (the backstop when a NOTIFY was missed).
 */
export async function taskRunsRenewLeases(
  db: Db,
  p: { replicaId: string; runs: { runId: string; epoch: number }[]; leaseTtlMs: number; now: Date },
): Promise<Map<string, LeaseState>> {
  const out = new Map<string, LeaseState>();
  for (const r of p.runs) out.set(r.runId, { owned: false, cancelRequested: false, locked: false });
  if (p.runs.length === 0) return out;
  const { rows } = await sql<{ id: string; owned: boolean; cancel: boolean; locked: boolean }>`
    WITH x AS (
      SELECT * FROM unnest(${p.runs.map((r) => r.runId)}::bigint[], ${p.runs.map((r) => r.epoch)}::int[]) AS x(id, epoch)
    ), l AS (
      SELECT t.id FROM task_run t JOIN x ON t.id = x.id
      WHERE t.lease_epoch = x.epoch AND t.owner_replica = ${p.replicaId} AND t.status = 'RUNNING'
      FOR UPDATE OF t SKIP LOCKED
    ), u AS (
      UPDATE task_run t SET lease_expires_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseTtlMs / 1000})
      FROM l WHERE t.id = l.id
      RETURNING t.id, t.cancel_requested_at IS NOT NULL AS cancel
    )
    SELECT x.id::text AS id, u.id IS NOT NULL AS owned, coalesce(u.cancel, false) AS cancel,
      u.id IS NULL AND EXISTS (
        SELECT 1 FROM task_run t WHERE t.id = x.id AND t.lease_epoch = x.epoch AND t.owner_replica = ${p.replicaId} AND t.status = 'RUNNING'
      ) AS locked
    FROM x LEFT JOIN u ON u.id = x.id`.execute(db);
  for (const r of rows) out.set(r.id, { owned: r.owned, cancelRequested: r.cancel, locked: r.locked });
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
