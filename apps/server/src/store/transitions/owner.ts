import { sql } from "kysely";
import type { Db } from "../db.js";
import { transitionStatement } from "./builder.js";
import { leaseFence, type OwnerFence } from "./fence.js";
import type { Fence } from "./finish.js";

export * from "./finish.js";

/** The running scheduler's transitions after the claim (claim.ts) and the finish (finish.ts): release, retry. */

/**
 * Gives a RUNNING run back — the draining replica aborted it (`release`), or its target session was lost
 * before anything committed (`requeue`): CANCELED when a cancel was recorded (nothing committed, and the
 * cancel must not be lost with the owner's session), else AVAILABLE when re-running is safe, otherwise
 * FAILED. `started: false` (a run claimed ahead that never started: nothing of it ran) is re-run whatever
 * its statement. Fenced like every owner write.
 */
export async function taskRunRelease(
  db: Db,
  p: Fence & { now: Date; reason: string; fence?: OwnerFence; transition?: "release" | "requeue"; started?: boolean },
): Promise<boolean> {
  const fence = p.fence ?? leaseFence;
  const rerun = p.started === false ? sql`true` : sql`r.rerunnable`;
  const { rows } = await transitionStatement({
    steps: [
      {
        name: p.transition ?? "release",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET
          status = CASE WHEN r.cancel_requested_at IS NOT NULL THEN 'CANCELED' WHEN ${rerun} THEN 'AVAILABLE' ELSE 'FAILED' END,
          owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
          finished_at = CASE WHEN ${rerun} AND r.cancel_requested_at IS NULL THEN NULL ELSE ${p.now}::timestamptz END,
          result = CASE WHEN r.cancel_requested_at IS NOT NULL OR ${rerun} THEN r.result
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
