import { sql, type CompiledQuery, type RawBuilder } from "kysely";
import { prepared, type Db } from "../db.js";
import { transitionStatement } from "./builder.js";
import { memoStatement } from "../memo-statement.js";
import {
  claimBucket,
  claimedOf,
  claimedRunning,
  leaseUntil,
  noRunWaiting,
  slotClaimValues,
  type ClaimedJson,
  type ClaimedRun,
  type SlotClaim,
} from "./claim.js";
import { controlsCannotHold } from "../gating-stages.js";

/** Transitions the API makes: creating runs and canceling runs that have not started. */

/** Largest task list sent as a prepared statement (see taskRunsCreate). */
const PREPARED_MAX_TASKS = 32;

/** What a create statement binds; `count`: how many task ids (every one must be found). */
interface CreateValues {
  rolloutId: string;
  taskIds: string[];
  count: number;
  runAt: Date | null;
  actor: string;
  now: Date;
  /** The creating replica's claim (see taskRunsCreateAndClaim); '' and 0 when it claims nothing. */
  claimReplicaId: string;
  claimLimit: number;
  claimLeaseTtlMs: number;
}

/** A run no gate can ever hold: its data, in the create's SELECT (task `t`, rollout `ro`, instance `i`). */
const noGate = (p: CreateValues) => sql`t.type = 'DATABASE_DATA_UPDATE' AND t.schema_version_key IS NULL AND ${p.runAt}::timestamptz IS NULL
            AND ro.parallel_tasks_per_rollout = 0 AND NOT ro.project_deleted AND i.deleted IS FALSE
            AND ${controlsCannotHold(sql.ref("t"), sql.ref("ro"))}`;

/** The new run's columns but its status, in the create's SELECT. */
const runColumns = (p: CreateValues) => sql`ro.id, t.instance_id, t.database_name, t.type <> 'DATABASE_DATA_UPDATE', t.schema_version_key,
          t.rerunnable, ${p.runAt}::timestamptz, ${p.actor}::text, ${p.now}::timestamptz, ${p.now}::timestamptz,
          t.id IN (SELECT id FROM retried_blockers)`;

const RUN_INSERT = sql`INSERT INTO task_run AS r (task_id, attempt, status, rollout_id, instance_id, database_name, sequential,
          schema_version_key, rerunnable, run_at, created_by, created_at, updated_at, ahead`;

const CREATE_FROM = (p: CreateValues) => sql`FROM to_run t
        CROSS JOIN (SELECT ro.id, ro.project_id, ro.stage_order, pr.parallel_tasks_per_rollout, pr.deleted AS project_deleted
          FROM rollout ro JOIN project pr ON pr.id = ro.project_id WHERE ro.id = ${p.rolloutId}) ro
        LEFT JOIN instance i ON i.id = t.instance_id`;

const nextAttempt = sql`coalesce((SELECT max(attempt) FROM task_run x WHERE x.task_id = t.id), 0) + 1`;

/** The create step's data-modifying statement: runs PENDING, or AVAILABLE when no gate can hold them. */
function createInsert(p: CreateValues, guard: RawBuilder<unknown>, returning: RawBuilder<unknown>) {
  return sql`
        ${RUN_INSERT})
        SELECT t.id, ${nextAttempt},
          CASE WHEN ${noGate(p)} THEN 'AVAILABLE' ELSE 'PENDING' END,
          ${runColumns(p)}
        ${CREATE_FROM(p)}
        WHERE ${guard}
        ORDER BY t.id
        RETURNING ${returning},
          CASE WHEN r.status = 'AVAILABLE' THEN 'created by ' || ${p.actor}::text || '; no gate applies'
               ELSE 'created by ' || ${p.actor}::text END AS reason,
          jsonb_build_object('runAt', ${p.runAt}::timestamptz, 'user', ${p.actor}::text) AS detail`;
}

/**
 * The same, claiming for the creating replica: the first \`claimLimit\` runs no gate can hold (by task id)
 * are created RUNNING with its lease — what a claim would write a moment later, without the NOTIFY and the
 * claim's round trip — but only while no run is AVAILABLE, so a new run never starts ahead of one already
 * waiting for an executor. The others are created as above, and runway_available wakes the replicas.
 */
function createClaimInsert(p: CreateValues, guard: RawBuilder<unknown>, returning: RawBuilder<unknown>) {
  const running = sql`c.status = 'RUNNING'`;
  return sql`
        ${RUN_INSERT}, owner_replica, lease_epoch, lease_expires_at, started_at)
        SELECT c.task_id, c.attempt, c.status, c.rollout_id, c.instance_id, c.database_name, c.sequential, c.schema_version_key,
          c.rerunnable, c.run_at, c.created_by, c.created_at, c.updated_at, c.ahead,
          CASE WHEN ${running} THEN ${p.claimReplicaId}::text END, CASE WHEN ${running} THEN 1 ELSE 0 END,
          CASE WHEN ${running} THEN ${leaseUntil(p.now, p.claimLeaseTtlMs)} END,
          CASE WHEN ${running} THEN ${p.now}::timestamptz END
        FROM (
          SELECT q.*, CASE WHEN NOT q.free THEN 'PENDING'
              WHEN count(*) FILTER (WHERE q.free) OVER (ORDER BY q.task_id) <= ${p.claimLimit}
                AND ${noRunWaiting} THEN 'RUNNING'
              ELSE 'AVAILABLE' END AS status
          FROM (
            SELECT t.id AS task_id, ${nextAttempt} AS attempt, (${noGate(p)}) AS free,
              ${runColumns(p)}
            ${CREATE_FROM(p)}
            WHERE ${guard}
          ) q (task_id, attempt, free, rollout_id, instance_id, database_name, sequential, schema_version_key, rerunnable,
            run_at, created_by, created_at, updated_at, ahead)
        ) c
        ORDER BY c.task_id
        RETURNING ${returning},
          CASE WHEN r.status = 'RUNNING' THEN 'created by ' || ${p.actor}::text || '; no gate applies; claimed by ' || ${p.claimReplicaId}::text
               WHEN r.status = 'AVAILABLE' THEN 'created by ' || ${p.actor}::text || '; no gate applies'
               ELSE 'created by ' || ${p.actor}::text END AS reason,
          jsonb_build_object('runAt', ${p.runAt}::timestamptz, 'user', ${p.actor}::text) AS detail,
          r.created_at AS available_at, r.retry_since, r.retry_attempts, r.auto_retries`;
}

/** The create statement; `ids` picks the tasks (see taskRunsCreate), `auto` an auto-run's. */
function createStatement(p: CreateValues, ids: RawBuilder<unknown>, auto: boolean, claim = false) {
  return transitionStatement({
    // The lock reads what the run copies from its task (immutable but for the status), and the rollout and
    // project are joined once: at 10,000 tasks, a second lookup of each task, rollout and project was ~40 ms.
    inputs: sql`lk AS (
      SELECT id, status, type, stage_id, instance_id, database_name, schema_version_key, rerunnable FROM task
      WHERE rollout_id = ${p.rolloutId} AND ${ids} ORDER BY id FOR UPDATE
    ), to_run AS (
      SELECT lk.*, lk.status AS was FROM lk
      WHERE lk.status IN ('NOT_STARTED', 'FAILED', 'CANCELED') AND (SELECT count(*) FROM lk) = ${p.count}
    ), retried_blockers AS (
      -- A retried FAILED/CANCELED version holds later versions on its database (BLOCKED_BY_FAILED): they
      -- wait for it again (VERSION_ORDER), and it goes ahead of its rollout's other waiting runs.
      SELECT t.id FROM to_run t
      WHERE t.was IN ('FAILED', 'CANCELED') AND t.schema_version_key IS NOT NULL AND EXISTS (
        SELECT 1 FROM task_run h WHERE h.instance_id = t.instance_id AND h.database_name = t.database_name
          AND h.status = 'PENDING' AND h.schema_version_key > t.schema_version_key)
    ), mark_retried AS (
      INSERT INTO gating_dirty_task (task_id) SELECT id FROM retried_blockers
    )`,
    steps: [
      {
        // An environment's auto-run: the pending scheduler's pass creates the runs (gating-controls.ts).
        name: auto ? "autoCreate" : "create",
        to: claim ? ["PENDING", "AVAILABLE", "RUNNING"] : ["PENDING", "AVAILABLE"],
        sql: ({ guard, returning }) => (claim ? createClaimInsert(p, guard, returning) : createInsert(p, guard, returning)),
      },
    ],
    // Every task as found under the lock and its new run, as one text ("id:status:run id", comma-separated):
    // a JSON object per task cost ~40 ms at 10,000 tasks, this a third of it.
    extra: (rel) => {
      const tasks = sql`(SELECT coalesce(string_agg(lk.id || ':' || lk.status || ':' || coalesce(s.id::text, ''), ','), '')
      FROM lk LEFT JOIN ${rel(0)} s ON s.task_id = lk.id) AS tasks`;
      return claim ? sql`${tasks}, ${claimedRunning(rel(0))}` : tasks;
    },
    listChanged: false,
    now: p.now,
    replicaId: claim ? p.claimReplicaId : null,
  });
}

/**
 * The create of a few tasks, memoized per shape (see memoStatement): an auto-run or not, and the ids'
 * LIMIT bucket. On the pickup path of every run a user starts.
 */
export const createFewStatement = memoStatement<CreateValues, string, unknown>((p, shape) => {
  const [auto, bucket, claim] = shape.split(":");
  // A subquery whose LIMIT is a literal power of two ≥ their number, so the generic plan counts at most
  // that many, as a custom plan counts exactly them. With the array alone the generic plan guessed 10 ids,
  // looked dearer than the custom plans once task and task_run were analyzed, and was never used: every call
  // was planned again, 1.75 ms of planning against 0.63 ms of execution (issue 19, docs/benchmarks.md §8;
  // test/hot-statement-plans.test.ts). At most six texts (1 to 32 ids).
  const ids = sql`id IN (SELECT unnest(${p.taskIds}::bigint[]) LIMIT ${sql.lit(Number(bucket))})`;
  return prepared(createStatement(p, ids, auto === "auto", claim === "claim"));
});

interface CreateParams {
  rolloutId: string;
  taskIds: string[];
  runAt: Date | null;
  actor: string;
  now: Date;
  auto?: boolean;
  claim?: SlotClaim | undefined;
}

const createValues = (p: CreateParams): CreateValues => ({
  rolloutId: p.rolloutId,
  taskIds: p.taskIds,
  count: p.taskIds.length,
  runAt: p.runAt,
  actor: p.actor,
  now: p.now,
  ...slotClaimValues(p.claim),
});

/** Whether a create claims: an API create with free slots to claim for (never an auto-run: the pass makes those). */
const claims = (p: CreateParams) => p.auto !== true && p.claim !== undefined && p.claim.limit > 0;

/** The statement taskRunsCreate sends. */
function taskRunsCreateCompiled(db: Db, p: CreateParams): CompiledQuery<unknown> {
  const claim = claims(p);
  if (p.taskIds.length <= PREPARED_MAX_TASKS)
    return createFewStatement.compile(
      db,
      `${p.auto ? "auto" : "user"}:${claimBucket(p.taskIds.length)}${claim ? ":claim" : ""}`,
      createValues(p),
    );
  return createStatement(createValues(p), sql`id = ANY(${p.taskIds}::bigint[])`, p.auto === true, claim).compile(db);
}

export interface CreatedTask {
  task_id: string;
  status: string;
  run_id: string | null;
}

/**
 * Creates a run for each of the tasks that may run (NOT_STARTED, FAILED, CANCELED) — nothing at all unless
 * every task was found — and reports every task's status as found under the row lock. One statement.
 * A run no gate can ever hold (no run-at, not sequential, no schema version, a project without a
 * parallel limit, a live project and instance) is created AVAILABLE: the pending scheduler's decision
 * for it depends on nothing but the run itself. Every other run starts PENDING.
 */
export async function taskRunsCreate(db: Db, p: Omit<CreateParams, "claim">): Promise<CreatedTask[]> {
  return (await taskRunsCreateAndClaim(db, p)).tasks;
}

/**
 * taskRunsCreate, claiming for the replica that serves the call (`claim`: its free executor slots): up to
 * `claim.limit` runs no gate can hold are created RUNNING under its lease, when no run is AVAILABLE already
 * (createClaimInsert). The caller hands `claimed` to its running scheduler, as a claim's runs.
 */
export async function taskRunsCreateAndClaim(db: Db, p: CreateParams): Promise<{ tasks: CreatedTask[]; claimed: ClaimedRun[] }> {
  // A run of a few tasks (a click, an API call for one task) goes as a prepared statement: the text is
  // large, so parsing and planning it cost twice what running it does. Not a large batch: the prepared
  // statement's generic plan, made for a few ids, took 8 times as long over 10,000 (bench/create.ts).
  const { rows } = await db.executeQuery(taskRunsCreateCompiled(db, p));
  const row = rows[0] as unknown as { tasks: string; claimed?: ClaimedJson[]; installation_id?: string };
  const tasks =
    row.tasks === ""
      ? []
      : row.tasks.split(",").map((x) => {
          const [task_id, status, run_id] = x.split(":") as [string, string, string];
          return { task_id, status, run_id: run_id === "" ? null : run_id };
        });
  return { tasks, claimed: claimedOf(row) };
}

/** PENDING or AVAILABLE → CANCELED. The caller holds the runs' row locks. Returns the rollouts changed. */
export async function taskRunsCancelNow(
  trx: Db,
  p: { runIds: string[]; actor: string; now: Date; replicaId: string | null; reason?: string },
): Promise<void> {
  if (p.runIds.length === 0) return;
  const cancel = ({ guard, returning }: { guard: ReturnType<typeof sql>; returning: ReturnType<typeof sql> }) => sql`
    UPDATE task_run r SET status = 'CANCELED', canceled_by = ${p.actor}, finished_at = ${p.now}, updated_at = ${p.now}
    WHERE r.id = ANY(${p.runIds}::bigint[]) AND ${guard}
    RETURNING ${returning}, coalesce(${p.reason ?? null}::text, 'canceled by ' || ${p.actor}::text) AS reason,
      jsonb_build_object('user', ${p.actor}::text) AS detail`;
  await transitionStatement({
    steps: [
      { name: "cancelPending", sql: cancel },
      { name: "cancelAvailable", sql: cancel },
    ],
    // Nothing reads the list, and a bulk cancel may name thousands of runs.
    listChanged: false,
    now: p.now,
    replicaId: p.replicaId,
  }).execute(trx);
}
