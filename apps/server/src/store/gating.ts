import { sql } from "kysely";
import type { WaitingCause } from "@runway/shared";
import { prepared, type Db } from "./db.js";
import { canceledCausesDelete, nextRunAtSql } from "./gating-candidates.js";
import { notifyChange } from "./notify.js";
import { idleBoundMs } from "./transitions/fence.js";
import { PLAN_TABLES, statBytesOf } from "./gating-take.js";
import { stageCausesUpsert, stageRowUnneeded } from "./gating-held.js";

/**
 * SQL of the pending scheduler's pass. Every function is one statement whose cost follows the size of its
 * input, so a pass issues the same number of statements whatever the backlog.
 */

export const PENDING_PASS_LOCK = 7_301_001;
/** No longer taken (sweeps need no lock since they settle runs on the target first); kept reserved. */
export const SWEEP_LOCK = 7_301_002;

/** Back to the default plan cache mode for the rest of the pass's transaction (a full pass). */
export async function gatingFullPassPlans(trx: Db): Promise<void> {
  await sql`SELECT set_config('plan_cache_mode', 'auto', true)`.execute(trx);
}

/**
 * Records the pass's `now` (the start of the next run-at window) and, after a full pass, clears the
 * request. Returns the earliest future run-at (or retry time) among PENDING runs, so the scheduler can wake exactly then.
 */
export async function gatingMarkPassDone(trx: Db, now: Date, full: boolean): Promise<Date | null> {
  const { rows } = await sql<{ t: Date | null }>`
    UPDATE gating_state SET last_pass_at = ${now},
      full_pass_requested = CASE WHEN ${full} THEN false ELSE full_pass_requested END,
      last_full_pass_at = CASE WHEN ${full} THEN ${now}::timestamptz ELSE last_full_pass_at END
    WHERE id = 1
    RETURNING ${nextRunAtSql(now)} AS t`.execute(trx);
  return rows[0]?.t ?? null;
}

/**
 * Commits a full pass's work so far and begins its next transaction on the same session, the pass lock held
 * throughout, so the runs promoted so far can start while the pass goes on (issue 19: with 20,000 gated runs
 * nothing ran for the ~0.9 s of the first full pass). One message in the simple protocol, so nothing of the
 * replica's can stop between its statements:
 * - the request flag is set first: a pass that dies before the end leaves runs read but not decided (their marks
 *   were taken by its lock statement), and the flag makes the next pass, of any replica, full. The pass's own
 *   last statement clears it (gatingMarkPassDone);
 * - the lock is taken at session level before COMMIT and the new transaction takes the transaction-level lock
 *   before letting go of it (a session's own requests always succeed), so no other pass gets in between and
 *   nothing is left held past the pass: if the session ends, PostgreSQL frees both;
 * - the new transaction gets the pass's idle bound and the full pass's plan mode (transaction settings end with COMMIT).
 * In an aborted transaction the first statement fails and the message with it, so a failed write is never
 * followed by a COMMIT that would roll the work back silently. Only for the production lock (advisoryLock).
 */
export async function gatingPassCheckpoint(trx: Db, key: number, idleMs: number): Promise<void> {
  if (!Number.isSafeInteger(key)) throw new Error(`lock key must be an integer, got ${key}`);
  // No parameter: a statement with one is sent in the extended protocol, which takes one statement a message.
  await sql
    .raw(
      `UPDATE gating_state SET full_pass_requested = true WHERE id = 1; SELECT pg_advisory_lock(${key}); COMMIT; BEGIN; ` +
        `SELECT pg_advisory_xact_lock(${key}), pg_advisory_unlock(${key}), ` +
        `set_config('idle_in_transaction_session_timeout', '${idleBoundMs(idleMs)}', true), set_config('plan_cache_mode', 'auto', true)`,
    )
    .execute(trx);
}

/**
 * Drops the cached plans of the session's prepared statements; each is planned afresh at its next execution
 * (scheduler/plan-basis.ts says when a pass needs it). Allowed in a transaction, and not undone by a rollback.
 */
export async function gatingDiscardPlans(trx: Db): Promise<void> {
  await sql`DISCARD PLANS`.execute(trx);
}

/**
 * ANALYZE of `tables` (names from PLAN_TABLES, each with the bytes its statistics counted when the pass
 * found it outgrown: pg_class.relpages × block size), giving up on a table another session holds
 * (autovacuum's own ANALYZE or VACUUM, another replica's ANALYZE) after `lockTimeoutMs`: new statistics
 * invalidate every session's cached plans of the tables, so each is costed again at their size. A role that
 * may not analyze them gets a warning, not an error. Returns false when the lock wait ran out.
 *
 * The lock ANALYZE takes is taken first, and a table whose statistics changed since the pass read them is
 * left alone: another replica's pass found it outgrown too and analyzed it meanwhile (relpages is written in
 * place, visible at once). Every replica's pass after a large rollout's first full pass found task_run_wait
 * outgrown, and each analyzed it in turn: 2 ANALYZEs of 85 ms in a 3-replica gated drain of 10,000 runs,
 * one for nothing (issue 19, docs/benchmarks.md §8).
 */
export async function gatingAnalyze(db: Db, tables: readonly { name: string; statBytes: number }[], lockTimeoutMs = 200): Promise<boolean> {
  const due = tables.filter((t) => (PLAN_TABLES as readonly string[]).includes(t.name));
  if (due.length === 0) return true;
  const ident = (names: readonly string[]) => sql.join(names.map((n) => sql.table(n)));
  try {
    await db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('lock_timeout', ${String(Math.max(1, Math.round(lockTimeoutMs)))}, true)`.execute(trx);
      await sql`LOCK TABLE ${ident(due.map((t) => t.name))} IN SHARE UPDATE EXCLUSIVE MODE`.execute(trx);
      const { rows } = await sql<{ name: string; bytes: string }>`
        SELECT c.relname AS name, ${statBytesOf("c")} AS bytes
        FROM pg_class c WHERE c.oid = ANY(${due.map((t) => t.name)}::regclass[])`.execute(trx);
      const now = new Map(rows.map((r) => [r.name, Number(r.bytes)]));
      const stale = due.filter((t) => now.get(t.name) === t.statBytes).map((t) => t.name);
      if (stale.length > 0) await sql`ANALYZE ${ident(stale)}`.execute(trx);
    });
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === "55P03") return false;
    throw e;
  }
}

export async function gatingRequestFullPass(db: Db): Promise<void> {
  await sql`UPDATE gating_state SET full_pass_requested = true WHERE id = 1`.execute(db);
}

export * from "./gating-candidates.js";
export * from "./gating-take.js";
export * from "./gating-live.js";
export * from "./gating-full.js";
export * from "./gating-held.js";
export { gatingFailOrphans, gatingPromote } from "./transitions/pass.js";
export { advisoryLock, type PassLock } from "./transitions/fence.js";

/**
 * Writes the causes of a pass. `fresh`: every one is for a run that had no cause in the pass's snapshot, and
 * the pass holds the real pass lock (no other pass can have written one since): a plain INSERT, ~18% cheaper
 * than the upsert's speculative insertion (issue 19: the full pass's write of 100k–1M causes is half its
 * time; docs/benchmarks.md §8). Without that guarantee a second pass would fail on the first one's row
 * instead of waiting on it and updating it.
 */
export async function gatingWriteCauses(trx: Db, causes: { runId: string; cause: WaitingCause }[], fresh = false): Promise<void> {
  if (causes.length === 0) return;
  // The causes as one JSON document of [id, cause] pairs, not bigint[] and jsonb[] parameters: node-postgres
  // builds array literals element by element with escaping, seconds for the 100k causes of a full pass (and
  // json_to_recordset was no faster server-side); JSON.stringify and one jsonb parse are linear.
  const doc = JSON.stringify(causes.map((c) => [c.runId, c.cause]));
  // Only for runs still PENDING (the pass holds the lock, but a cancel may have landed meanwhile). An upsert
  // even for runs read without a cause row: a plain INSERT measured no faster (docs/benchmarks.md §1), and a
  // pass that ran without the lock (webhook-approval.test.ts) would fail on the other's row.
  // Prepared: one jsonb parameter, whose row estimate is the same in a generic and a custom plan.
  await prepared(sql`
    INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at, instance_id, database_name, sequential)
    SELECT c.id, c.cause ->> 'type', c.cause, r.rollout_id, r.created_at, r.instance_id, r.database_name, r.sequential
    FROM (SELECT (e ->> 0)::bigint AS id, e -> 1 AS cause FROM jsonb_array_elements(${doc}::jsonb) AS e) c
    JOIN task_run r ON r.id = c.id AND r.status = 'PENDING'
    ${fresh ? sql`` : sql`ON CONFLICT (run_id) DO UPDATE SET type = excluded.type, cause = excluded.cause`}`).execute(trx);
}

/**
 * Records what causeRecords (domain/cause-records.ts) put on stages, in one statement: each stage's release
 * control's cause (migration 0069), the rows of runs that cause now holds (theirs would shadow it in run_wait),
 * and the rows of `freed` stages that no PENDING run needs any more: every PENDING run there has a row of its
 * own (the pass's run causes are written before this, so runs it evaluated count). A run not evaluated yet
 * keeps the stage's cause until a pass evaluates it, the pass that frees the row then. `freed` and the
 * stages written are disjoint (one statement must not both update and delete a row).
 */
export async function gatingWriteStageCauses(
  trx: Db,
  p: { stages: { stageId: string; rolloutId: string; cause: WaitingCause }[]; held: string[]; freed: string[] },
): Promise<void> {
  if (p.stages.length === 0 && p.held.length === 0 && p.freed.length === 0) return;
  await prepared(sql`
    WITH st AS (${stageCausesUpsert(p.stages)}),
    held AS (DELETE FROM task_run_wait w WHERE w.run_id = ANY(${p.held}::bigint[]))
    DELETE FROM stage_wait s WHERE s.stage_id = ANY(${p.freed}::bigint[]) AND ${stageRowUnneeded(sql.ref("s"))}`).execute(trx);
}

/** The full pass's removal of those causes (a live pass's read does it: gatingLoadLive). */
export async function gatingDropCanceledCauses(trx: Db, runIds: string[]): Promise<void> {
  if (runIds.length > 0) await canceledCausesDelete(runIds).execute(trx);
}

/** Re-marks databases and rollouts for the next pass (work this pass could not finish or made stale). */
export async function gatingMarkForNextPass(trx: Db, dbs: { instanceId: string; database: string }[], rolloutIds: string[]): Promise<void> {
  if (dbs.length === 0 && rolloutIds.length === 0) return;
  await prepared(sql`
    WITH d AS (
      INSERT INTO gating_dirty_database (instance_id, database_name)
      SELECT * FROM unnest(${dbs.map((d) => d.instanceId)}::text[], ${dbs.map((d) => d.database)}::text[])
    )
    INSERT INTO gating_dirty_rollout (rollout_id) SELECT unnest(${rolloutIds}::bigint[])`).execute(trx);
}

export { notifyChange };
