import { sql, type RawBuilder } from "kysely";
import { prepared, type Db } from "../db.js";
import { parseIds, stepIds, transitionStatement, type TransitionStep } from "./builder.js";
import { leaseFence, type OwnerFence } from "./fence.js";
import { ledgerSnapshotsAppendSql } from "../ledger-snapshots.js";
import { claimStep, claimedJson, taskRunsClaim, toClaimed, type ClaimedJson, type ClaimParams, type ClaimedRun } from "./claim.js";

/** The running scheduler's transitions after the claim (claim.ts): finish (alone or with the claim that refills its slots), release, retry. */

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
  /**
   * A versioned change the run applied (DONE): it goes into its database's ledger snapshot, if there is one,
   * in the finish statement itself (store/ledger-snapshots.ts).
   */
  applied?: { schemaVersion: string; checksum: string } | null;
}

/** RUNNING → DONE/FAILED/CANCELED for each item, fenced per item. All items come from one replica. */
function finishParts(items: Finish[], now: Date, fence: OwnerFence) {
  const inputs = sql`fin_in AS (
    SELECT * FROM unnest(${items.map((i) => i.runId)}::bigint[], ${items.map((i) => i.replicaId)}::text[], ${items.map((i) => i.epoch)}::int[],
      ${items.map((i) => i.status)}::text[], ${items.map((i) => JSON.stringify(i.result ?? null))}::jsonb[], ${items.map((i) => i.message)}::text[],
      ${items.map((i) => i.applied?.schemaVersion ?? null)}::text[], ${items.map((i) => i.applied?.checksum ?? null)}::text[])
      AS x(id, replica, epoch, status, result, message, version, checksum))`;
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
  // Only the runs the fence let through (a run written DONE); a statement without applied changes has no such CTEs.
  const after = items.some((i) => i.applied)
    ? (stepRel: (i: number) => RawBuilder<unknown>) => sql`ledger_add AS (
      SELECT c.instance_id AS i, c.database_name AS d, jsonb_agg(DISTINCT jsonb_build_array(x.version, x.checksum)) AS e
      FROM ${stepRel(0)} c JOIN fin_in x ON x.id = c.id WHERE c.status = 'DONE' AND x.checksum IS NOT NULL GROUP BY 1, 2
    ), eff_ledger AS (${ledgerSnapshotsAppendSql(sql.ref("ledger_add"), now)})`
    : undefined;
  return { inputs, step, after };
}

/**
 * RUNNING → DONE/FAILED/CANCELED for many runs in one statement (the running scheduler batches outcomes
 * that arrive while a write is in flight). Each run has its own fence (owner + epoch): a replica that
 * lost its lease changes nothing. Returns the ids written.
 */
export async function taskRunsFinish(db: Db, items: Finish[], p: { now: Date; fence?: OwnerFence }): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const { inputs, step, after } = finishParts(items, p.now, p.fence ?? leaseFence);
  const { rows } = await prepared(
    transitionStatement({
      inputs,
      steps: [step],
      ...(after ? { after } : {}),
      extra: (rel) => writtenIds(rel(0)),
      listChanged: false,
      now: p.now,
      replicaId: items[0]!.replicaId,
    }),
  ).execute(db);
  return parseWritten(rows[0]!);
}

/** The runs the finish step wrote (its fence let them through). */
const writtenIds = (finished: RawBuilder<unknown>) => stepIds(finished, "written");
const parseWritten = (row: object) => parseIds((row as { written: string }).written);

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
  const { inputs, step, after } = finishParts(items, p.now, p.fence ?? leaseFence);
  const { rows } = await prepared(
    transitionStatement({
      inputs,
      steps: [step, claimStep(p.claim)],
      ...(after ? { after } : {}),
      extra: (rel) => sql`${writtenIds(rel(0))}, ${claimedJson(rel(1))}`,
      listChanged: false,
      now: p.now,
      replicaId: p.claim.replicaId,
    }),
  ).execute(db);
  const row = rows[0]! as unknown as { claimed: ClaimedJson[]; installation_id: string };
  return { written: parseWritten(row), claimed: row.claimed.map((r) => toClaimed(r, row.installation_id)) };
}

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
