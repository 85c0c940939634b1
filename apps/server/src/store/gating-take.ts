import { sql, type RawBuilder } from "kysely";
import { prepared, type Db } from "./db.js";
import { beginPrepared } from "./begin-prepared.js";
import type { GatingChanges } from "./gating-candidates.js";
import { stageProgressFoldCtes } from "./gating-stages.js";
import { memoStatement } from "./memo-statement.js";
import { advisoryLock, type PassLock } from "./transitions/fence.js";

/**
 * A pending pass's first statement — the pass lock, and the change records taken under it — and the pass's
 * transaction, which begins in the same message (gatingPassTransaction).
 */

/** How long a frozen holder of the pass lock may keep it (see advisoryLock); every taker uses it. */
export const PASS_LOCK_IDLE_MS = 5000;
/**
 * The plan cache mode of a pass's transaction, set by its first statement: the live pass's prepared
 * statements take arrays whose size the planner can see in a custom plan, so for the few runs of an idle
 * system a custom plan always looks cheaper than the generic one and PostgreSQL plans them afresh on every
 * pass (~4 ms for the live read). Their lookups are index probes forced by LATERAL … OFFSET 0 or `= ANY` on a
 * key, so the generic plan is as good at 10k and 100k pending (docs/benchmarks.md §8, "the live pass"). A full
 * pass sets the default back first (gatingFullPassPlans): its cursor must be planned for its backlog.
 */
export const PASS_PLAN_MODE = "force_generic_plan";

/** The tables whose sizes a pass's generic plans are checked against (GatingChanges.planBasis). */
export const PLAN_TABLES = ["task_run", "task_run_wait", "task", "stage_wait"] as const;

/**
 * The bytes a table's statistics count, of its pg_class row `c`: relpages (0 before the first ANALYZE or VACUUM)
 * in this server's pages (8 kB unless it was built with another block size). The pass reads it, and gatingAnalyze
 * compares it with what the pass read: one expression, so the two agree.
 */
export const statBytesOf = (c: string) => sql`${sql.ref(c)}.relpages::bigint * current_setting('block_size')::bigint`;

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

/**
 * gatingTakeChanges's statement under the lock condition `locked`. Prepared, as every statement of a live pass
 * (gatingLoadLive says why): by the protocol inside a transaction, by SQL with its BEGIN (`begin`, see
 * gatingPassTransaction).
 */
const takeChangesStatement = (locked: RawBuilder<unknown>, begin = false) => (begin ? beginPrepared : prepared)(takeChangesSql(locked));

const takeChangesSql = (locked: RawBuilder<unknown>) =>
  sql<TakenRow>`
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
           -- The bytes their statistics count (statBytesOf).
           ARRAY[${sql.join(PLAN_TABLES.map((t) => sql`(SELECT ${statBytesOf("c")} FROM pg_class c WHERE c.oid = ${sql.lit(t)}::regclass)`))}] AS stat_bytes,
           pg_backend_pid() AS session
  `;

/**
 * Under the production lock, built once per key, idle bound and form (`key:idle:begin` or `key:idle:in`, see
 * memoStatement): the first statement on the pickup path of every run a gate holds.
 */
export const takeChangesMemo = memoStatement<Record<string, never>, string, TakenRow>((_v, shape) => {
  const [key, idle, form] = shape.split(":") as [string, string, string];
  return takeChangesStatement(advisoryLock(Number(key), Number(idle)), form === "begin");
});

interface TakeParams {
  key: number;
  idleTimeoutMs?: number;
  lock?: PassLock;
}

/**
 * Takes the pass lock and, if it got it, takes (deletes) the change records written since the last pass —
 * one statement, in the caller's transaction. Returns null when another pass holds the lock. Rolls back with
 * the pass on failure.
 */
export async function gatingTakeChanges(trx: Db, p: TakeParams): Promise<GatingChanges | null> {
  return takeChanges(trx, p, false);
}

/**
 * A pass's transaction on `db`'s session: BEGIN and gatingTakeChanges's statement go as one message (see
 * beginPrepared), then `fn` with the changes taken — unless another pass holds the lock (null) — then COMMIT.
 * On any failure, ROLLBACK (best effort: on a lost connection the server ends the transaction itself) and
 * the failure is rethrown. What Kysely's transaction() does, less BEGIN's round trip on every pass. `fn` may
 * end the transaction itself with its last statement (preparedCommit) and say so (`ended.committed`).
 */
export async function gatingPassTransaction<T>(
  db: Db,
  p: TakeParams,
  fn: (trx: Db, changes: GatingChanges, ended: { committed: boolean }) => Promise<T>,
): Promise<T | null> {
  return db.connection().execute(async (conn) => {
    try {
      const changes = await takeChanges(conn, p, true);
      const ended = { committed: false };
      const result = changes === null ? null : await fn(conn, changes, ended);
      if (!ended.committed) await sql`COMMIT`.execute(conn);
      return result;
    } catch (e) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}

async function takeChanges(trx: Db, p: TakeParams, begin: boolean): Promise<GatingChanges | null> {
  const lock = p.lock ?? advisoryLock;
  const idle = p.idleTimeoutMs ?? PASS_LOCK_IDLE_MS;
  // The production lock's statement is memoized (it binds no value at all); an injected PassLock's is built afresh.
  const { rows } =
    lock === advisoryLock
      ? await takeChangesMemo.run(trx, `${p.key}:${idle}:${begin ? "begin" : "in"}`, {})
      : await takeChangesStatement(lock(p.key, idle), begin).execute(trx);
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
