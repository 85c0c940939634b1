import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import { prepared, type Db } from "../db.js";
import { transitionStatement, type TransitionStep } from "./builder.js";
import { leaseFence, type OwnerFence } from "./fence.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../../domain/auto-retry.js";

/** The running scheduler's transitions: claim, finish (alone or with the claim that refills its slots), release. */

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
  /** Planned from a release: skipped when the target's ledger has its version (or content) from another task. */
  applyOnce?: "VERSION" | "CONTENT";
  instanceId: string;
  connectionUrl: string;
  database: string;
  rerunnable: boolean;
  availableAt: Date;
  /** Set when earlier executions could not reach the target: since when, and how many. */
  retrySince: Date | null;
  retryAttempts: number;
  /** Automatic retries of lock/serialization failures so far, and the project's retry settings. */
  autoRetries?: number;
  retryPolicy?: RetryPolicy;
}

export interface Fence {
  runId: string;
  replicaId: string;
  epoch: number;
}

export type FinishStatus = "DONE" | "FAILED" | "CANCELED";

export interface Finish extends Fence {
  status: FinishStatus;
  result: unknown;
  message: string;
}

export interface ClaimParams {
  replicaId: string;
  limit: number;
  leaseTtlMs: number;
  now: Date;
}

interface ClaimedJson {
  id: string;
  task_id: string;
  rollout_id: string;
  attempt: number;
  lease_epoch: number;
  rerunnable: boolean;
  available_at: string;
  type: TaskType;
  statement: string;
  schema_version: string | null;
  apply_once: "VERSION" | "CONTENT" | null;
  instance_id: string;
  database_name: string;
  connection_url: string;
  retry_since: string | null;
  retry_attempts: number;
  auto_retries: number;
  retry_policy: { lock_timeout_ms: number; max_auto_retries: number; backoff_base_ms: number; backoff_max_ms: number } | null;
}

/** AVAILABLE → RUNNING for up to `limit` runs, oldest first, SKIP LOCKED. */
function claimStep(p: ClaimParams): TransitionStep {
  return {
    name: "claim",
    // Materialized: a subquery with SKIP LOCKED may be scanned again and pick other rows each time.
    inputs: sql`claim_pick AS MATERIALIZED (
      SELECT id, updated_at FROM task_run WHERE status = 'AVAILABLE'
        -- A paused rollout's runs are put back to PENDING by the pause; this guard covers one made AVAILABLE
        -- by a statement that did not see the pause yet (rollout_pause is almost always empty).
        AND NOT EXISTS (SELECT 1 FROM rollout_pause rp WHERE rp.rollout_id = task_run.rollout_id)
        ORDER BY id LIMIT ${p.limit} FOR UPDATE SKIP LOCKED)`,
    sql: ({ guard, returning }) => sql`
      UPDATE task_run r SET status = 'RUNNING', owner_replica = ${p.replicaId}, lease_epoch = r.lease_epoch + 1,
        lease_expires_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseTtlMs / 1000}),
        started_at = coalesce(r.started_at, ${p.now}), updated_at = ${p.now}
      FROM claim_pick c
      WHERE r.id = c.id AND ${guard}
      RETURNING ${returning}, 'claimed by ' || ${p.replicaId}::text AS reason, NULL::jsonb AS detail, c.updated_at AS available_at,
        r.retry_since, r.retry_attempts, r.auto_retries`,
  };
}

/** What an executor needs of each claimed run, as one JSON array (ids as text). */
const claimedJson = (rel: ReturnType<typeof sql.ref>) => sql`
  (SELECT coalesce(json_agg(json_build_object(
    'id', s.id::text, 'task_id', s.task_id::text, 'rollout_id', s.rollout_id::text, 'attempt', s.attempt,
    'lease_epoch', s.lease_epoch, 'rerunnable', s.rerunnable, 'available_at', s.available_at, 'type', t.type,
    'statement', t.statement, 'schema_version', t.schema_version, 'apply_once', t.apply_once, 'instance_id', t.instance_id,
    'database_name', t.database_name, 'connection_url', i.connection_url,
    'retry_since', s.retry_since, 'retry_attempts', s.retry_attempts, 'auto_retries', s.auto_retries,
    'retry_policy', (SELECT to_jsonb(rp) FROM project_retry_policy rp JOIN rollout ro ON ro.project_id = rp.project_id
      WHERE ro.id = s.rollout_id)) ORDER BY s.id), '[]')
  FROM ${rel} s JOIN task t ON t.id = s.task_id JOIN instance i ON i.id = t.instance_id) AS claimed,
  (SELECT id::text FROM installation) AS installation_id`;

/** Every read of an instance's connection URL goes through here (a decrypt step would go here). */
export function connectionUrlOf(stored: string): string {
  return stored;
}

/** The one place a claimed run's row becomes a ClaimedRun. */
function toClaimed(r: ClaimedJson, installationId: string): ClaimedRun {
  return {
    id: r.id,
    installationId,
    taskId: r.task_id,
    rolloutId: r.rollout_id,
    attempt: r.attempt,
    epoch: r.lease_epoch,
    type: r.type,
    statement: r.statement,
    schemaVersion: r.schema_version,
    ...(r.apply_once ? { applyOnce: r.apply_once } : {}),
    instanceId: r.instance_id,
    connectionUrl: connectionUrlOf(r.connection_url),
    database: r.database_name,
    rerunnable: r.rerunnable,
    availableAt: new Date(r.available_at),
    retrySince: r.retry_since ? new Date(r.retry_since) : null,
    retryAttempts: r.retry_attempts,
    autoRetries: r.auto_retries,
    retryPolicy: r.retry_policy
      ? {
          lockTimeoutMs: r.retry_policy.lock_timeout_ms,
          maxAutoRetries: r.retry_policy.max_auto_retries,
          backoffBaseMs: r.retry_policy.backoff_base_ms,
          backoffMaxMs: r.retry_policy.backoff_max_ms,
        }
      : DEFAULT_RETRY_POLICY,
  };
}

/** RUNNING → DONE/FAILED/CANCELED for each item, fenced per item. All items come from one replica. */
function finishParts(items: Finish[], now: Date, fence: OwnerFence) {
  const inputs = sql`fin_in AS (
    SELECT * FROM unnest(${items.map((i) => i.runId)}::bigint[], ${items.map((i) => i.replicaId)}::text[], ${items.map((i) => i.epoch)}::int[],
      ${items.map((i) => i.status)}::text[], ${items.map((i) => JSON.stringify(i.result ?? null))}::jsonb[], ${items.map((i) => i.message)}::text[])
      AS x(id, replica, epoch, status, result, message))`;
  const step: TransitionStep = {
    name: "finish",
    // Each run gets its item's status: the webhook outbox CTEs go only into statements with a FAILED item.
    to: items.map((i) => i.status),
    sql: ({ guard, returning }) => sql`
      UPDATE task_run r SET status = x.status, result = x.result, finished_at = ${now}, updated_at = ${now}, lease_expires_at = NULL
      FROM fin_in x WHERE r.id = x.id AND ${guard} AND ${fence({ replica: sql`x.replica`, epoch: sql`x.epoch` })}
      -- The log entry keeps what a reader translates: the result (rows, the PostgreSQL error), who canceled.
      RETURNING ${returning}, x.message AS reason,
        jsonb_build_object('result', x.result, 'user', CASE WHEN x.status = 'CANCELED' THEN r.canceled_by END) AS detail`,
  };
  return { inputs, step };
}

/**
 * AVAILABLE → RUNNING for up to `limit` runs, oldest first, in one statement. SKIP LOCKED lets replicas
 * claim side by side without waiting on or double-claiming each other's rows.
 */
export async function taskRunsClaim(db: Db, p: ClaimParams): Promise<ClaimedRun[]> {
  if (p.limit <= 0) return [];
  const { rows } = await prepared(
    transitionStatement({
      steps: [claimStep(p)],
      extra: (rel) => claimedJson(rel(0)),
      now: p.now,
      replicaId: p.replicaId,
    }),
  ).execute(db);
  const row = rows[0]! as unknown as { claimed: ClaimedJson[]; installation_id: string };
  return row.claimed.map((r) => toClaimed(r, row.installation_id));
}

/**
 * RUNNING → DONE/FAILED/CANCELED for many runs in one statement (the running scheduler batches outcomes
 * that arrive while a write is in flight). Each run has its own fence (owner + epoch): a replica that
 * lost its lease changes nothing. Returns the ids written.
 */
export async function taskRunsFinish(db: Db, items: Finish[], p: { now: Date; fence?: OwnerFence }): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const { inputs, step } = finishParts(items, p.now, p.fence ?? leaseFence);
  const { rows } = await prepared(transitionStatement({ inputs, steps: [step], now: p.now, replicaId: items[0]!.replicaId })).execute(db);
  return new Set(rows[0]!.changed.map((c) => c.id));
}

/** taskRunsFinish for one run: false when the fence did not hold. */
export async function taskRunFinish(db: Db, p: Finish & { now: Date; fence?: OwnerFence }): Promise<boolean> {
  return (await taskRunsFinish(db, [p], p)).has(p.runId);
}

/**
 * taskRunsFinish and taskRunsClaim in one statement: the slots the finished runs free are refilled in
 * the same round trip and commit. `claim.limit` may be 0.
 */
export async function taskRunsFinishAndClaim(
  db: Db,
  items: Finish[],
  p: { now: Date; fence?: OwnerFence; claim: ClaimParams },
): Promise<{ written: Set<string>; claimed: ClaimedRun[] }> {
  if (p.claim.limit <= 0) return { written: await taskRunsFinish(db, items, p), claimed: [] };
  if (items.length === 0) return { written: new Set(), claimed: await taskRunsClaim(db, p.claim) };
  const { inputs, step } = finishParts(items, p.now, p.fence ?? leaseFence);
  const { rows } = await prepared(
    transitionStatement({
      inputs,
      steps: [step, claimStep(p.claim)],
      extra: (rel) => claimedJson(rel(1)),
      now: p.now,
      replicaId: p.claim.replicaId,
    }),
  ).execute(db);
  const row = rows[0]! as unknown as { changed: { id: string; from: string }[]; claimed: ClaimedJson[]; installation_id: string };
  return {
    written: new Set(row.changed.filter((c) => c.from === "RUNNING").map((c) => c.id)),
    claimed: row.claimed.map((r) => toClaimed(r, row.installation_id)),
  };
}

/**
 * Gives a RUNNING run back — the draining replica aborted it (`release`), or its target session was lost
 * before anything committed (`requeue`): CANCELED when a cancel was recorded (nothing committed, and the
 * cancel must not be lost with the owner's session), else AVAILABLE when re-running is safe, otherwise
 * FAILED. Fenced like every owner write.
 */
export async function taskRunRelease(
  db: Db,
  p: Fence & { now: Date; reason: string; fence?: OwnerFence; transition?: "release" | "requeue" },
): Promise<boolean> {
  const fence = p.fence ?? leaseFence;
  const { rows } = await transitionStatement({
    steps: [
      {
        name: p.transition ?? "release",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET
          status = CASE WHEN r.cancel_requested_at IS NOT NULL THEN 'CANCELED' WHEN r.rerunnable THEN 'AVAILABLE' ELSE 'FAILED' END,
          owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
          finished_at = CASE WHEN r.rerunnable AND r.cancel_requested_at IS NULL THEN NULL ELSE ${p.now}::timestamptz END,
          result = CASE WHEN r.cancel_requested_at IS NOT NULL OR r.rerunnable THEN r.result
            ELSE jsonb_build_object('error', jsonb_build_object('message', ${p.reason}::text)) END
        WHERE r.id = ${p.runId} AND ${guard} AND ${fence({ replica: sql`${p.replicaId}::text`, epoch: sql`${p.epoch}::int` })}
        RETURNING ${returning}, ${p.reason}::text AS reason, NULL::jsonb AS detail`,
      },
    ],
    now: p.now,
    replicaId: p.replicaId,
  }).execute(db);
  return rows[0]!.changed.length > 0;
}

/**
 * The target could not be reached, or the session was lost before COMMIT, and nothing of the run
 * committed: back to PENDING until `retryAt` (the pending scheduler records TARGET_UNREACHABLE
 * meanwhile) — CANCELED instead when a cancel was recorded. Fenced like every owner write.
 */
export async function taskRunRetry(db: Db, p: Fence & { now: Date; retryAt: Date; error: string; fence?: OwnerFence }): Promise<boolean> {
  const fence = p.fence ?? leaseFence;
  const { rows } = await transitionStatement({
    steps: [
      {
        name: "retry",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET
          status = CASE WHEN r.cancel_requested_at IS NOT NULL THEN 'CANCELED' ELSE 'PENDING' END,
          finished_at = CASE WHEN r.cancel_requested_at IS NOT NULL THEN ${p.now}::timestamptz END,
          owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
          retry_at = ${p.retryAt}, retry_since = coalesce(r.retry_since, ${p.now}), retry_attempts = r.retry_attempts + 1,
          retry_error = ${p.error}, retry_cause = NULL
        WHERE r.id = ${p.runId} AND ${guard} AND ${fence({ replica: sql`${p.replicaId}::text`, epoch: sql`${p.epoch}::int` })}
        RETURNING ${returning}, 'target unreachable, retry at ' || ${p.retryAt.toISOString()}::text || ': ' || ${p.error}::text AS reason,
          jsonb_build_object('retryAt', ${p.retryAt.toISOString()}::text, 'attempts', r.retry_attempts) AS detail`,
      },
    ],
    now: p.now,
    replicaId: p.replicaId,
  }).execute(db);
  return rows[0]!.changed.length > 0;
}

/**
 * A transactional run failed with a lock timeout, a deadlock or a serialization failure, which rolled it
 * back entirely: back to PENDING until `until` (the pending scheduler records RETRY_BACKOFF meanwhile) —
 * CANCELED instead when a cancel was recorded. Fenced like every owner write, and the retry count is
 * compared too (`autoRetries` is what the owner read when it claimed the run), so two writers — a zombie
 * owner and a new one, or a write retried after a lost reply — can never count one failure twice.
 */
export async function taskRunAutoRetry(
  db: Db,
  p: Fence & { now: Date; until: Date; attempt: number; max: number; reason: string; result: unknown; fence?: OwnerFence },
): Promise<boolean> {
  const fence = p.fence ?? leaseFence;
  const { rows } = await transitionStatement({
    steps: [
      {
        name: "autoRetry",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET
          status = CASE WHEN r.cancel_requested_at IS NOT NULL THEN 'CANCELED' ELSE 'PENDING' END,
          finished_at = CASE WHEN r.cancel_requested_at IS NOT NULL THEN ${p.now}::timestamptz END,
          owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
          result = ${JSON.stringify(p.result ?? null)}::jsonb,
          retry_at = ${p.until}, retry_cause = 'RETRY_BACKOFF', auto_retries = ${p.attempt}, auto_retry_max = ${p.max}
        WHERE r.id = ${p.runId} AND ${guard} AND r.auto_retries = ${p.attempt - 1}
          AND ${fence({ replica: sql`${p.replicaId}::text`, epoch: sql`${p.epoch}::int` })}
        RETURNING ${returning}, ${p.reason}::text AS reason,
          jsonb_build_object('autoRetry', jsonb_build_object('attempt', ${p.attempt}::int, 'max', ${p.max}::int,
            'until', ${p.until.toISOString()}::text)) AS detail`,
      },
    ],
    now: p.now,
    replicaId: p.replicaId,
  }).execute(db);
  return rows[0]!.changed.length > 0;
}
