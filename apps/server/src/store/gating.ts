import { sql, type RawBuilder } from "kysely";
import type { WaitingCause } from "@runway/shared";
import { prepared, type Db } from "./db.js";
import { canceledCausesDelete, nextRunAtSql, type GatingChanges } from "./gating-candidates.js";
import { stageProgressFoldCtes } from "./gating-stages.js";
import { notifyChange } from "./notify.js";
import { advisoryLock, idleBoundMs, type PassLock } from "./transitions/fence.js";
import { stageCausesUpsert, stageRowUnneeded } from "./gating-held.js";
import { memoStatement } from "./memo-statement.js";

/**
 * SQL of the pending scheduler's pass. Every function is one statement whose cost follows the size of its
 * input, so a pass issues the same number of statements whatever the backlog.
 */

export const PENDING_PASS_LOCK = 7_301_001;
/** How long a frozen holder of the pass lock may keep it (see advisoryLock); every taker uses it. */
export const PASS_LOCK_IDLE_MS = 5000;
/** No longer taken (sweeps need no lock since they settle runs on the target first); kept reserved. */
export const SWEEP_LOCK = 7_301_002;

/**
 * The plan cache mode of a pass's transaction, set by its first statement: the live pass's prepared
 * statements take arrays whose size the planner can see in a custom plan, so for the few runs of an idle
 * system a custom plan always looks cheaper than the generic one and PostgreSQL plans them afresh on every
 * pass (~4 ms for the live read). Their lookups are index probes forced by LATERAL … OFFSET 0 or `= ANY` on a
 * key, so the generic plan is as good at 10k and 100k pending (docs/benchmarks.md §8, "the live pass"). A full
 * pass sets the default back first (gatingFullPassPlans): its cursor must be planned for its backlog.
 */
export const PASS_PLAN_MODE = "force_generic_plan";

/** Back to the default plan cache mode for the rest of the pass's transaction (a full pass). */
export async function gatingFullPassPlans(trx: Db): Promise<void> {
  await sql`SELECT set_config('plan_cache_mode', 'auto', true)`.execute(trx);
}

/** The tables whose sizes a pass's generic plans are checked against (GatingChanges.planBasis). */
export const PLAN_TABLES = ["task_run", "task_run_wait", "task", "stage_wait"] as const;

interface TakenRow {
  ok: boolean;
  full: boolean;
  last_full: Date | null;
  last_pass: Date | null;
  runs: string[];
  dbs: { instance_id: string; database_name: string; version_from: string | null }[];
  tasks: { instance_id: string; database_name: string; schema_version_key: string }[];
  rollouts: { rollout_id: string; all_limited: boolean }[];
  sizes: string[];
  stat_bytes: string[];
  session: number;
}

/** gatingTakeChanges's statement under the lock condition `locked`. Prepared, as every statement of a live pass (gatingLoadLive says why). */
const takeChangesStatement = (locked: RawBuilder<unknown>) =>
  prepared(sql<TakenRow>`
    WITH lk AS MATERIALIZED (SELECT ${locked} AS ok),
    s AS (SELECT full_pass_requested, last_full_pass_at, last_pass_at FROM gating_state WHERE id = 1),
    n0 AS (DELETE FROM gating_dirty_run WHERE (SELECT ok FROM lk) RETURNING run_id),
    n AS (SELECT DISTINCT run_id FROM n0),
    -- The run transitions' marks, one row of arrays per statement (migration 0070), with the three tables'.
    b0 AS MATERIALIZED (DELETE FROM gating_dirty_batch WHERE (SELECT ok FROM lk) RETURNING *),
    d0 AS (DELETE FROM gating_dirty_database WHERE (SELECT ok FROM lk) RETURNING instance_id, database_name, version_from),
    d AS (
      SELECT instance_id, database_name, min(version_from) AS version_from FROM (
        SELECT instance_id, database_name, version_from FROM d0
        UNION ALL
        SELECT u.i, u.n, NULL::text COLLATE "C" FROM b0 CROSS JOIN LATERAL unnest(b0.instance_ids, b0.database_names) AS u(i, n)
      ) x GROUP BY 1, 2),
    t0 AS (DELETE FROM gating_dirty_task WHERE (SELECT ok FROM lk) RETURNING task_id),
    t AS (SELECT task_id FROM t0 UNION SELECT unnest(b0.task_ids) FROM b0),
    r0 AS (DELETE FROM gating_dirty_rollout WHERE (SELECT ok FROM lk) RETURNING rollout_id, all_limited),
    r AS (
      SELECT rollout_id, bool_or(all_limited) AS all_limited FROM (
        SELECT rollout_id, all_limited FROM r0 UNION ALL SELECT unnest(b0.rollout_ids), false FROM b0
      ) x GROUP BY 1),
    -- Every pass folds the stage-progress deltas the task triggers appended (migrations 0058, 0065), here under the
    -- lock, so the stage facts read later in the pass need not (a live pass whose runs no release control
    -- can hold reads none) and the delta table stays bounded whatever the passes read.
    ${stageProgressFoldCtes(sql`(SELECT ok FROM lk)`)}
    SELECT (SELECT ok FROM lk) AS ok,
           -- The pass's statements on generic plans (see PASS_PLAN_MODE).
           set_config('plan_cache_mode', ${PASS_PLAN_MODE}, true) IS NOT NULL AS plan_mode,
           (SELECT full_pass_requested FROM s) AS full,
           (SELECT last_full_pass_at FROM s) AS last_full,
           (SELECT last_pass_at FROM s) AS last_pass,
           (SELECT coalesce(json_agg(n.run_id::text), '[]') FROM n) AS runs,
           (SELECT coalesce(json_agg(d), '[]') FROM d) AS dbs,
           -- The marked tasks by their primary key, the ids as one array: the generic plan otherwise hash-joined
           -- the marks to a scan of every task (7 of this statement's 8 ms at 20,000 tasks). Of the forms
           -- measured (join, a LATERAL probe per mark, this) it is the fastest from 10 to 100,000 marks.
           (SELECT coalesce(json_agg(json_build_object('instance_id', k.instance_id, 'database_name', k.database_name,
              'schema_version_key', k.schema_version_key)), '[]') FROM task k
              WHERE k.id = ANY(ARRAY(SELECT task_id FROM t)) AND k.schema_version_key IS NOT NULL) AS tasks,
           (SELECT coalesce(json_agg(json_build_object('rollout_id', r.rollout_id::text, 'all_limited', r.all_limited)), '[]') FROM r) AS rollouts,
           -- What the session's generic plans were costed for (scheduler/plan-basis.ts): the sizes of the tables
           -- they read, in PLAN_TABLES' order, and the session.
           ARRAY[${sql.join(PLAN_TABLES.map((t) => sql`pg_relation_size(${sql.lit(t)}::regclass)`))}] AS sizes,
           -- The bytes their statistics count (pg_class.relpages, 0 before the first ANALYZE or VACUUM, in this
           -- server's pages: 8 kB unless it was built with another block size).
           ARRAY[${sql.join(PLAN_TABLES.map((t) => sql`(SELECT c.relpages::bigint * current_setting('block_size')::bigint FROM pg_class c WHERE c.oid = ${sql.lit(t)}::regclass)`))}] AS stat_bytes,
           pg_backend_pid() AS session
  `);

/**
 * Under the production lock, built once per key and idle bound (see memoStatement): the first statement on
 * the pickup path of every run a gate holds.
 */
export const takeChangesMemo = memoStatement<Record<string, never>, string, TakenRow>((_v, shape) => {
  const [key, idle] = shape.split(":").map(Number) as [number, number];
  return takeChangesStatement(advisoryLock(key, idle));
});

/**
 * Takes the pass lock and, if it got it, takes (deletes) the change records written since the last pass —
 * one statement. Returns null when another pass holds the lock. Rolls back with the pass on failure.
 */
export async function gatingTakeChanges(
  trx: Db,
  p: { key: number; idleTimeoutMs?: number; lock?: PassLock },
): Promise<GatingChanges | null> {
  const lock = p.lock ?? advisoryLock;
  const idle = p.idleTimeoutMs ?? PASS_LOCK_IDLE_MS;
  // The production lock's statement is memoized (it binds no value at all); an injected PassLock's is built afresh.
  const { rows } =
    lock === advisoryLock
      ? await takeChangesMemo.run(trx, `${p.key}:${idle}`, {})
      : await takeChangesStatement(lock(p.key, idle)).execute(trx);
  const row = rows[0]!;
  if (!row.ok) return null;
  return {
    fullRequested: row.full,
    lastFullPassAt: row.last_full,
    lastPassAt: row.last_pass,
    runs: row.runs,
    dbs: row.dbs.map((d) => ({ instanceId: d.instance_id, database: d.database_name, versionFrom: d.version_from })),
    tasks: row.tasks.map((t) => ({ instanceId: t.instance_id, database: t.database_name, versionKey: t.schema_version_key })),
    rollouts: row.rollouts.map((r) => ({ rolloutId: r.rollout_id, allLimited: r.all_limited })),
    planBasis: { session: row.session, sizes: row.sizes.map(Number) },
    statBytes: row.stat_bytes.map(Number),
  };
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
 * ANALYZE of `tables` (names from PLAN_TABLES), giving up on a table another session holds (autovacuum's own
 * ANALYZE or VACUUM) after `lockTimeoutMs`: new statistics invalidate every session's cached plans of the
 * tables, so each is costed again at their size. A role that may not analyze them gets a warning, not an error.
 * Returns false when the lock wait ran out.
 */
export async function gatingAnalyze(db: Db, tables: readonly string[], lockTimeoutMs = 200): Promise<boolean> {
  const names = tables.filter((t): t is (typeof PLAN_TABLES)[number] => (PLAN_TABLES as readonly string[]).includes(t));
  if (names.length === 0) return true;
  try {
    await db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('lock_timeout', ${String(Math.max(1, Math.round(lockTimeoutMs)))}, true)`.execute(trx);
      await sql`ANALYZE ${sql.join(names.map((n) => sql.table(n)))}`.execute(trx);
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
