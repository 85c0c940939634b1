import { sql, type RawBuilder } from "kysely";
import { prepared } from "./db.js";
import { memoStatement } from "./memo-statement.js";
import {
  LIMIT_MARGIN,
  canceledCausesDelete,
  baseColumns,
  baseJoins,
  blockerColumns,
  blockerJoin,
  nextRunAtSql,
  stageWaitJoin,
  taskProbe,
  type CandidateRow,
} from "./gating-candidates.js";
import { controlsCannotHold } from "./gating-stages.js";
import { databaseHolderSql } from "./holder.js";
import { autoRunDueSql, breakersDueSql } from "./gating-controls.js";
import { noRunWaiting } from "./transitions/claim.js";
import { parseShapeKey, union } from "./gating-live-shape.js";

export { liveShapeKey, type LiveShape } from "./gating-live-shape.js";

/**
 * The live pass's read, in one statement (issue 19: a live pass's time was mostly round trips, and the
 * parsing and planning of a dozen statements on every pass): which runs to evaluate, what decide() needs
 * about each, the occupancy of their databases and rollouts, and the pass's end mark (`last_pass_at`,
 * the next run-at to wake for). Sent as a prepared statement: every input is an array or a scalar, and
 * every lookup is forced to an index probe (LATERAL … OFFSET 0), so the generic plan PostgreSQL may settle
 * on after five runs is the plan whatever the arrays' sizes (checked with EXPLAIN, docs/benchmarks.md §8).
 */

/**
 * The candidates' databases: instance, database, holder's task id (or null), limit_waiting, busy_more
 * (see LiveLoad).
 */
type OccBusy = [string, string, string | null, boolean, boolean];
/** The occupancy, on one row only (the last candidate's, or the single row when there is none). */
export type Occupancy = {
  occ_busy: OccBusy[];
  occ_active: [string, number][];
  occ_free: string[];
  /** breakersDueSql's rows as [rollout id, failures], then autoRunDueSql's as [rollout id, task ids]. */
  ctl_breakers: [string, number][];
  ctl_auto: [string, string[]][];
};
/** One row per candidate; a single row with `id` null when there is none. */
type LiveRow = { next_run_at: Date | null; none_available: boolean } & (CandidateRow | { id: null }) & (Occupancy | { occ_busy: null });

/** What the live read binds (see gatingLoadLive): the pass's time and the change records as arrays. */
export interface LiveValues {
  now: Date;
  since: Date;
  runs: string[];
  inst: string[];
  dbs: string[];
  vfrom: (string | null)[];
  /** Per freed database, the version of a task marked there (splitLiveMarks): that task's branch, read with the database's. */
  vdone: (string | null)[];
  tinst: string[];
  tdbs: string[];
  tkeys: string[];
  rids: string[];
  rall: boolean[];
  /** The rollouts whose release controls to read (see gatingLoadLive). */
  crids: string[];
}

/**
 * The PENDING runs at the smallest pending version on database (i, n), or the smallest above `above`
 * (task_run_pending_version_idx, two probes): the freed database's branch and the finished version's branch
 * of the live read's candidates.
 */
const atSmallestPendingVersion = (i: RawBuilder<unknown>, n: RawBuilder<unknown>, above?: RawBuilder<unknown>) => sql`
  SELECT r.id FROM task_run r
  WHERE r.instance_id = ${i} AND r.database_name = ${n} AND r.status = 'PENDING'
    AND r.schema_version_key = (
      SELECT min(m.schema_version_key) FROM task_run m
      WHERE m.instance_id = ${i} AND m.database_name = ${n} AND m.status = 'PENDING'
        AND ${above ? sql`m.schema_version_key > (${above} COLLATE "C")` : sql`m.schema_version_key IS NOT NULL`})`;

/**
 * The live read, built once per shape key (liveShapeKey: the count of busy waiters, and which inputs hold
 * anything; see memoStatement): on the pickup path of every run a gate holds.
 */
export const liveReadMemo = memoStatement<LiveValues, string, LiveRow>((v, key) => {
  const { busyWaiters, shape } = parseShapeKey(key);
  return prepared(sql<LiveRow>`
    WITH done AS (
      UPDATE gating_state SET last_pass_at = ${v.now} WHERE id = 1
      RETURNING ${nextRunAtSql(v.now)} AS next_run_at, ${noRunWaiting} AS none_available
    ),
    ${shape.runs ? sql`gone AS (${canceledCausesDelete(v.runs)}),` : sql``}
    cand AS (
      ${union([
        shape.runs &&
          sql`
      -- New runs, never evaluated.
      SELECT unnest(${v.runs}::bigint[]) AS id`,
        sql`
      -- Runs whose run-at time arrived since the last pass.
      SELECT r.id FROM task_run r
      WHERE r.status = 'PENDING' AND r.run_at IS NOT NULL AND r.run_at > ${v.since} AND r.run_at <= ${v.now}`,
        sql`
      -- Runs whose retry time (after an unreachable target) arrived since the last pass.
      SELECT r.id FROM task_run r
      WHERE r.status = 'PENDING' AND r.retry_at IS NOT NULL AND r.retry_at > ${v.since} AND r.retry_at <= ${v.now}`,
        shape.dbs &&
          sql`
      -- A database whose sequential run ended: a run there can change only if it is sequential and not
      -- held by version order or a gate before it. Of its DATABASE_BUSY runs only the first few in decide()'s
      -- order: one of them may take the database, and the rest keep their cause whoever holds it next (the
      -- API names the holder live); if it stays free, the pass marks it again for the next few (busy_more).
      -- Retried blockers there go first whatever they wait for. Once the database is busy again, its
      -- sequential limit-held runs wait on it instead. The smallest pending version may go; new versioned
      -- tasks may hold runs above them. (LATERAL … OFFSET 0 keeps each lookup an index probe.)
      SELECT x.id FROM unnest(${v.inst}::text[], ${v.dbs}::text[], ${v.vfrom}::text[], ${v.vdone}::text[]) AS d(i, n, vf, vd)
      CROSS JOIN LATERAL (
        (SELECT w.run_id AS id FROM task_run_wait w
        WHERE w.instance_id = d.i AND w.database_name = d.n AND w.type = 'DATABASE_BUSY'
        ORDER BY w.run_created_at, w.run_id LIMIT ${sql.lit(busyWaiters)})
        UNION ALL
        SELECT r.id FROM task_run r
        WHERE r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING' AND r.ahead AND r.sequential
        UNION ALL
        -- The holder only where such runs wait (CASE keeps that order): as a plain condition it was a one-time
        -- filter, its two probes made for every freed database first, ~30% of this branch (issue 19).
        SELECT w.run_id FROM task_run_wait w
        WHERE w.instance_id = d.i AND w.database_name = d.n AND w.type = 'PARALLEL_LIMIT' AND w.sequential
          AND CASE WHEN EXISTS (SELECT 1 FROM task_run_wait o WHERE o.instance_id = d.i AND o.database_name = d.n
              AND o.type = 'PARALLEL_LIMIT' AND o.sequential)
            THEN ${databaseHolderSql(sql`d.i`, sql`d.n`)} IS NOT NULL ELSE false END
        UNION ALL
        ${atSmallestPendingVersion(sql`d.i`, sql`d.n`)}
        UNION ALL
        -- The finished version's branch below (runs at the smallest pending version above it), for a task marked on
        -- this database (splitLiveMarks): the same runs as the line above unless a pending version lies at or below
        -- it, which one probe tells (CASE keeps that order). A chain's every step marks both; read once, not twice.
        SELECT x.id FROM (
          ${atSmallestPendingVersion(sql`d.i`, sql`d.n`, sql`d.vd`)}
        ) x
        WHERE CASE WHEN d.vd IS NOT NULL THEN EXISTS (SELECT 1 FROM task_run m WHERE m.instance_id = d.i AND m.database_name = d.n
            AND m.status = 'PENDING' AND m.schema_version_key <= (d.vd COLLATE "C")) ELSE false END
        UNION ALL
        SELECT r.id FROM task_run r
        WHERE d.vf IS NOT NULL AND r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING'
          AND r.schema_version_key > (d.vf COLLATE "C")
        OFFSET 0
      ) x`,
        shape.tasks &&
          sql`
      -- Runs held by a version that became DONE or SKIPPED: those between it and the next unfinished
      -- version above it on the same database (their nearest smaller unfinished version was it). The
      -- same runs when it became FAILED or CANCELED or was retried (BLOCKED_BY_FAILED starts or stops).
      -- Read as the PENDING runs at the smallest pending version above it: a superset. Any run held so is
      -- at that version (every PENDING run's task is unfinished, so the next unfinished version is at or
      -- below the smallest pending one), and when an unfinished task without a PENDING run comes between,
      -- the runs read were held by that task instead and are only decided again, as they were. Probed in
      -- task_run_pending_version_idx, not task_open_version_idx, whose probe fetched the task rows (HOT
      -- chains the claims and finishes keep extending) to see which are unfinished: a gated drain with 3
      -- replicas went 4-9% faster without it, in four blocks of alternating runs (issue 19, docs/benchmarks.md §8).
      SELECT x.id FROM unnest(${v.tinst}::text[], ${v.tdbs}::text[], ${v.tkeys}::text[]) AS v(i, n, k)
      CROSS JOIN LATERAL (
        ${atSmallestPendingVersion(sql`v.i`, sql`v.n`, sql`v.k`)}
        OFFSET 0
      ) x`,
        shape.rollouts &&
          sql`
      -- Rollouts with freed slots: the oldest limit-held runs, as many as there are free slots (plus a
      -- margin for runs whose cause went stale); all of them when the limit itself changed.
      SELECT l.id FROM unnest(${v.rids}::bigint[], ${v.rall}::boolean[]) AS x(rid, all_limited)
      JOIN rollout ro ON ro.id = x.rid
      JOIN project p ON p.id = ro.project_id
      CROSS JOIN LATERAL (
        SELECT count(*)::int AS n FROM task_run a WHERE a.rollout_id = x.rid AND a.status IN ('AVAILABLE', 'RUNNING')
      ) act
      CROSS JOIN LATERAL (
        SELECT w.run_id AS id FROM task_run_wait w
        WHERE w.rollout_id = x.rid AND w.type = 'PARALLEL_LIMIT'
        ORDER BY w.run_created_at, w.run_id
        LIMIT CASE WHEN x.all_limited OR p.parallel_tasks_per_rollout = 0 THEN NULL
                   ELSE greatest(p.parallel_tasks_per_rollout - act.n, 0) + ${LIMIT_MARGIN}::int END
      ) l`,
        shape.rollouts &&
          sql`
      -- Retried blockers of freed rollouts go first (decide() orders them ahead), wherever they queue.
      SELECT a.id FROM unnest(${v.rids}::bigint[]) AS x(rid)
      CROSS JOIN LATERAL (SELECT r.id FROM task_run r WHERE r.rollout_id = x.rid AND r.status = 'PENDING' AND r.ahead OFFSET 0) a`,
        shape.rollouts &&
          sql`
      -- Rollouts where a task finished or was skipped: runs held by a stage of theirs that has no
      -- unfinished task left (task_stage_open_idx; run_wait: task_run_wait_stage_idx for runs' own rows,
      -- stage_wait_blocker_idx for stages' rows and then the runs of the held stage).
      SELECT w.run_id FROM unnest(${v.rids}::bigint[]) AS x(rid)
      JOIN stage s ON s.rollout_id = x.rid
      CROSS JOIN LATERAL (
        SELECT w.run_id FROM run_wait w WHERE w.type = 'STAGE_GATE' AND (w.cause ->> 'stageId')::bigint = s.id OFFSET 0
      ) w
      -- Whether the stage holds anything first (CASE keeps that order): the open-task probe walks the stage's
      -- finished tasks' dead index entries, 0.15 ms a stage in a drain, for stages that mostly hold nothing.
      -- Asked of the two tables, not of run_wait: the view's stage rows are the held stage's PENDING runs, and to
      -- find the first the planner read a bitmap of all its unfinished tasks (~7,000 a stage at 1M pending runs:
      -- 2 ms a stage, 102 of a 118 ms live read). A stage row with no run left to hold only costs the probe.
      WHERE CASE WHEN EXISTS (SELECT 1 FROM task_run_wait h WHERE h.type = 'STAGE_GATE' AND (h.cause ->> 'stageId')::bigint = s.id)
          OR EXISTS (SELECT 1 FROM stage_wait h WHERE h.type = 'STAGE_GATE' AND (h.cause ->> 'stageId')::bigint = s.id)
        THEN NOT EXISTS (SELECT 1 FROM task t WHERE t.stage_id = s.id AND t.unfinished) ELSE false END`,
      ])}
    ),
    -- The ids as one array (an InitPlan): a primary-key probe each, and the small tables joined once. The
    -- status compared with a subquery's value, not a constant: the constant would let the generic plan
    -- scan a whole partial index WHERE status = 'PENDING' for the ids (task_run_pending_db_idx, 1,039
    -- pages for 30 runs), which it does when task_run's statistics say few runs are PENDING (issue 19).
    c AS MATERIALIZED (
      SELECT ${baseColumns}, ${blockerColumns}
      FROM task_run r ${baseJoins} ${taskProbe} ${stageWaitJoin} ${blockerJoin}
      WHERE r.id = ANY(ARRAY(SELECT DISTINCT id FROM cand)) AND r.status = (SELECT 'PENDING'::text)
    ),
    -- Stages where no release control can hold a run: their candidates need no stage facts read
    -- (gatingApplyStages). Once per stage, not per run.
    free_st AS MATERIALIZED (
      SELECT x.stage_id, ${controlsCannotHold(sql.ref("x"), sql.ref("ro"))} AS free
      FROM (SELECT DISTINCT stage_id, rollout_id FROM c) x JOIN rollout ro ON ro.id = x.rollout_id
    ),
    -- The occupancy of the candidates' databases and rollouts, read with them (one snapshot).
    dbs AS MATERIALIZED (SELECT instance_id, database_name, array_agg(id) AS ids FROM c GROUP BY 1, 2),
    occ_busy AS MATERIALIZED (
      SELECT d.instance_id, d.database_name,
        -- Whether sequential runs the pass did not read wait there for their rollout's limit: a promotion
        -- there makes their cause stale (DATABASE_BUSY comes first), and none otherwise. At most k + 1 entries.
        EXISTS (SELECT 1 FROM task_run_wait o WHERE o.instance_id = d.instance_id AND o.database_name = d.database_name
          AND o.type = 'PARALLEL_LIMIT' AND o.sequential AND o.run_id <> ALL (d.ids)) AS limit_waiting,
        -- Whether more DATABASE_BUSY runs wait there than a freed database's branch above reads.
        (SELECT count(*) FROM (SELECT 1 FROM task_run_wait o WHERE o.instance_id = d.instance_id AND o.database_name = d.database_name
          AND o.type = 'DATABASE_BUSY' LIMIT ${sql.lit(busyWaiters + 1)}) x) > ${sql.lit(busyWaiters)} AS busy_more,
        -- A RUNNING dry run holds the database too (dryRunsBusySql); it wins, as in gatingLoadOccupancy.
        ${databaseHolderSql(sql`d.instance_id`, sql`d.database_name`)} AS task_id
      FROM dbs d
    ),
    occ_active AS MATERIALIZED (
      SELECT x.rollout_id, (SELECT count(*)::int FROM task_run a WHERE a.rollout_id = x.rollout_id AND a.status IN ('AVAILABLE', 'RUNNING')) AS n
      FROM (SELECT DISTINCT rollout_id FROM c) x
    ),
    -- The occupancy and the free stages as three JSON arrays, sent once (on the row of the last candidate).
    -- Joined to the candidates instead, each CTE scan's estimate of one row made every join a nested loop
    -- over the others: quadratic, 277,000 comparisons (half the statement) for a pass of 479 candidates.
    occ AS MATERIALIZED (
      SELECT
        (SELECT coalesce(json_agg(json_build_array(b.instance_id, b.database_name, b.task_id::text, b.limit_waiting, b.busy_more)), '[]')
          FROM occ_busy b) AS occ_busy,
        (SELECT coalesce(json_agg(json_build_array(a.rollout_id::text, a.n)), '[]') FROM occ_active a WHERE a.n > 0) AS occ_active,
        (SELECT coalesce(json_agg(fs.stage_id::text), '[]') FROM free_st fs WHERE fs.free) AS occ_free,
        -- The release controls due (gating-controls.ts), read here rather than in two statements of their own
        -- before it: two round trips less while the pass holds its lock, on every pass after a task finished.
        ${
          shape.controls
            ? sql`(SELECT coalesce(json_agg(json_build_array(b.id::text, b.failures) ORDER BY b.id), '[]')
          FROM (${breakersDueSql(sql`${v.crids}::bigint[]`)}) b) AS ctl_breakers,
        (SELECT coalesce(json_agg(json_build_array(a.rollout_id::text, a.task_ids) ORDER BY a.rollout_id), '[]')
          FROM (${autoRunDueSql(sql`${v.crids}::bigint[]`)}) a) AS ctl_auto`
            : sql`'[]'::json AS ctl_breakers, '[]'::json AS ctl_auto`
        }
    )
    SELECT done.next_run_at, done.none_available, c.*, o.occ_busy, o.occ_active, o.occ_free, o.ctl_breakers, o.ctl_auto
    FROM done
    LEFT JOIN c ON true
    LEFT JOIN occ o ON c.id IS NULL OR c.id = (SELECT max(l.id) FROM c l)`);
});
