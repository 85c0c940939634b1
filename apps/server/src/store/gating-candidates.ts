import { sql, type RawBuilder } from "kysely";
import type { WaitingCause } from "@runway/shared";
import type { Db } from "./db.js";
import { dryRunsBusySql } from "./dry-runs.js";
import { dbKey, type GatingCandidate } from "../domain/gating.js";

/**
 * Reads of the pending scheduler's pass: which PENDING runs to evaluate, with what a decision needs, and
 * the live state of their databases and rollouts. One statement each, whatever the backlog.
 */

export interface CandidateRow {
  ahead: boolean;
  /** created_at truncated to the millisecond, as epoch milliseconds (see baseColumns). */
  created_ms: number;
  id: string;
  task_id: string;
  rollout_id: string;
  instance_id: string;
  database_name: string;
  sequential: boolean;
  run_at: Date | null;
  waiting_cause: WaitingCause | null;
  schema_version_key: string | null;
  parallel_limit: number;
  project_id: string;
  project_deleted: boolean;
  instance_deleted: boolean | null;
  blocker_task_id: string | null;
  blocker_version: string | null;
  blocker_status: string | null;
  /** A backoff of either kind (see baseColumns); NULL for most runs. */
  retry: RetryColumns | null;
  stage_id: string;
}

/** retry_at, retry_since (ISO text), retry_attempts, retry_error, retry_cause, auto_retries, auto_retry_max. */
type RetryColumns = [string, string | null, number, string | null, string | null, number, number | null];

export { dbKey };

export interface GatingChanges {
  fullRequested: boolean;
  lastFullPassAt: Date | null;
  lastPassAt: Date | null;
  runs: string[];
  dbs: { instanceId: string; database: string; versionFrom: string | null }[];
  /** Versioned tasks that became DONE or SKIPPED, with where they live. */
  tasks: { instanceId: string; database: string; versionKey: string }[];
  rollouts: { rolloutId: string; allLimited: boolean }[];
  /** The sizes of the tables the pass's plans read (PLAN_TABLES) and the pass's session: see scheduler/plan-basis.ts. */
  planBasis: { session: number; sizes: number[] };
  /** The same tables' sizes as their statistics count them (pg_class.relpages, in bytes). */
  statBytes: number[];
}

export function toCandidate(r: CandidateRow): GatingCandidate {
  let orphanReason: string | null = null;
  if (r.project_deleted) orphanReason = `project "${r.project_id}" was deleted`;
  else if (r.instance_deleted !== false) orphanReason = `instance "${r.instance_id}" was deleted`;
  return {
    runId: r.id,
    taskId: r.task_id,
    rolloutId: r.rollout_id,
    dbKey: dbKey(r.instance_id, r.database_name),
    sequential: r.sequential,
    runAt: r.run_at,
    createdAt: new Date(r.created_ms),
    limit: r.parallel_limit,
    orphanReason,
    versionKey: r.schema_version_key,
    versionBlocker: r.blocker_task_id ? { taskId: r.blocker_task_id, schemaVersion: r.blocker_version!, status: r.blocker_status! } : null,
    ahead: r.ahead,
    cause: r.waiting_cause,
    ...retryOf(r.retry),
    stageId: r.stage_id,
  };
}

/** A run's backoff from its retry column: a retry of an unreachable target, or an automatic retry. */
function retryOf(retry: RetryColumns | null): Pick<GatingCandidate, "targetRetry" | "autoRetry"> {
  if (retry === null) return { targetRetry: null, autoRetry: null };
  const [at, since, attempts, lastError, cause, autoRetries, autoRetryMax] = retry;
  const retryAt = new Date(at);
  // retry_at is the backoff of either kind; retry_cause says which (NULL: an unreachable target).
  return cause === "RETRY_BACKOFF"
    ? { targetRetry: null, autoRetry: { until: retryAt, attempt: autoRetries, max: autoRetryMax ?? autoRetries } }
    : {
        targetRetry: { retryAt, since: since === null ? retryAt : new Date(since), attempts, lastError: lastError ?? "" },
        autoRetry: null,
      };
}

/**
 * What decide() needs of a run. The sort keys of the full read (gating-full.ts) come first: a sort compares
 * later keys only on a tie of the earlier ones, and then takes them from the sorted row, where a key at the
 * end of ~25 columns cost the 100k-run sort two thirds of its time. created_at as epoch milliseconds, and a
 * backoff's seven columns as one (NULL for almost every run): a full pass parses 100,000 rows in Node, and
 * timestamps and columns were most of that (issue 19).
 *
 * created_ms is created_at truncated to the millisecond, in float8 because extract()'s numeric cost 0.75 µs a
 * run (0.75 s of a full pass at 1M): date_part's seconds are within a quarter microsecond of the truth, so
 * round() gives the exact microseconds (below 2^53) and floor() the exact millisecond (checked against
 * date_trunc over 3.2M instants from 2000 to 2099).
 */
export const baseColumns = sql`
  r.ahead, floor(round(date_part('epoch', r.created_at) * 1000000) / 1000) AS created_ms,
  r.id, r.task_id, r.rollout_id, r.instance_id, r.database_name, r.sequential, r.run_at,
  r.schema_version_key, coalesce(w.cause, sw.cause) AS waiting_cause, p.parallel_tasks_per_rollout AS parallel_limit, p.id AS project_id,
  p.deleted AS project_deleted, i.deleted AS instance_deleted,
  CASE WHEN r.retry_at IS NOT NULL THEN json_build_array(r.retry_at, r.retry_since, r.retry_attempts, r.retry_error,
    r.retry_cause, r.auto_retries, r.auto_retry_max) END AS retry,
  tk.stage_id`;
export const baseJoins = sql`
  LEFT JOIN task_run_wait w ON w.run_id = r.id
  JOIN rollout ro ON ro.id = r.rollout_id
  JOIN project p ON p.id = ro.project_id
  LEFT JOIN instance i ON i.id = r.instance_id`;
/**
 * The run's stage's cause (migration 0069), after the task's join (`tk`): a run's recorded cause is its own
 * row's, else its stage's (baseColumns' waiting_cause, as the run_wait view).
 */
export const stageWaitJoin = sql`LEFT JOIN stage_wait sw ON sw.stage_id = tk.stage_id`;
/** The full pass reads every run: one hash join with task is cheapest. */
export const taskJoin = sql`JOIN task tk ON tk.id = r.task_id`;
/**
 * The live pass reads a few hundred runs: one primary-key probe each (OFFSET 0 keeps it a probe; a plain
 * join was planned as a hash join over the whole task table, tens of ms at 100k).
 */
export const taskProbe = sql`CROSS JOIN LATERAL (SELECT t.stage_id FROM task t WHERE t.id = r.task_id OFFSET 0) tk`;

export const blockerColumns = sql`vb.id AS blocker_task_id, vb.schema_version AS blocker_version, vb.status AS blocker_status`;
/**
 * Nearest smaller unfinished version on the same database (run `r`), when `when` holds: one probe of
 * task_open_version_idx (the conditions on `r` alone become a one-time filter, so no probe otherwise).
 */
export const blockerProbe = (when: RawBuilder<unknown> = sql`true`) => sql`
      SELECT t.id, t.schema_version, t.status FROM task t
      WHERE r.schema_version_key IS NOT NULL AND ${when}
        AND t.instance_id = r.instance_id AND t.database_name = r.database_name
        AND t.schema_version IS NOT NULL AND t.unfinished
        AND t.schema_version_key < r.schema_version_key
      ORDER BY t.schema_version_key DESC, t.id DESC LIMIT 1`;
export const blockerJoin = sql`LEFT JOIN LATERAL (${blockerProbe()}) vb ON true`;

/**
 * When the pending scheduler must wake next: the earliest future run-at or retry time among PENDING runs.
 * Read as a pass records itself (gatingMarkPassDone, a live pass's gatingLoadLive).
 */
export const nextRunAtSql = (now: Date) => sql<Date | null>`least(
  (SELECT min(run_at) FROM task_run WHERE status = 'PENDING' AND run_at IS NOT NULL AND run_at > ${now}),
  (SELECT min(retry_at) FROM task_run WHERE status = 'PENDING' AND retry_at IS NOT NULL AND retry_at > ${now}))`;

/** The smallest bigint, as SQL text: `x >= BIGINT_MIN` holds of every non-null bigint. */
const BIGINT_MIN = "-9223372036854775808";

/** Extra limit-held runs loaded per freed rollout beyond its free slots. */
export const LIMIT_MARGIN = 8;

/**
 * The busy databases (dbKey → task id of the AVAILABLE/RUNNING sequential run or the RUNNING dry run there; `null` keys: every
 * database) and the active runs per rollout (`null` rollouts: every rollout), in one round trip (the pass's latency is mostly round trips).
 * Nothing to read without candidates.
 */
export async function gatingLoadOccupancy(
  trx: Db,
  keys: { instanceId: string; database: string }[] | null,
  rolloutIds: string[] | null,
): Promise<{ busy: Map<string, string>; active: Map<string, number> }> {
  if ((keys !== null && keys.length === 0) || rolloutIds?.length === 0) return { busy: new Map(), active: new Map() };
  const busySql =
    keys === null
      ? sql`SELECT DISTINCT ON (instance_id, database_name) instance_id, database_name, task_id
          FROM task_run WHERE status IN ('AVAILABLE', 'RUNNING') AND sequential
          ORDER BY instance_id, database_name, id`
      : sql`SELECT d.i AS instance_id, d.n AS database_name, b.task_id
          FROM unnest(${keys.map((k) => k.instanceId)}::text[], ${keys.map((k) => k.database)}::text[]) AS d(i, n)
          CROSS JOIN LATERAL (
            SELECT task_id FROM task_run
            WHERE instance_id = d.i AND database_name = d.n AND status IN ('AVAILABLE', 'RUNNING') AND sequential
            ORDER BY id LIMIT 1
          ) b`;
  const { rows } = await sql<{ busy: [string, string, string][]; active: [string, number][] }>`
    SELECT
      (SELECT coalesce(json_agg(json_build_array(b.instance_id, b.database_name, b.task_id::text)), '[]')
        FROM ((${busySql}) UNION ALL (${dryRunsBusySql(keys)})) b) AS busy,
      (SELECT coalesce(json_agg(json_build_array(a.rollout_id::text, a.n)), '[]') FROM (
        SELECT rollout_id, count(*)::int AS n FROM task_run
        WHERE status IN ('AVAILABLE', 'RUNNING') AND (${rolloutIds === null} OR rollout_id = ANY(${rolloutIds ?? []}::bigint[]))
          -- True of every run, and what lets every rollout's count (no rollout_id above) read
          -- task_run_rollout_active_idx, whose predicate names rollout_id IS NOT NULL (migration 0068); that
          -- condition itself PostgreSQL drops as redundant on a NOT NULL column, a comparison it keeps.
          AND rollout_id >= ${sql.lit(BIGINT_MIN)}::bigint
        GROUP BY rollout_id) a) AS active`.execute(trx);
  const row = rows[0]!;
  return {
    busy: new Map(row.busy.map(([i, n, t]) => [dbKey(i, n), t])),
    active: new Map(row.active),
  };
}

/**
 * Removes the causes of marked runs that are no longer PENDING: a cause another pass wrote while the run
 * was being canceled (transitions/builder.ts, eff_canceled). Only in a statement after gatingTakeChanges:
 * its snapshot was taken before it held the pass lock, so the pass before may have committed after it.
 */
export const canceledCausesDelete = (runIds: string[]) => sql`
  DELETE FROM task_run_wait w USING task_run x
  WHERE w.run_id = ANY(${runIds}::bigint[]) AND x.id = w.run_id AND x.status <> 'PENDING'`;
