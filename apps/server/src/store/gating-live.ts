import { sql } from "kysely";
import { prepared, type Db } from "./db.js";
import { memoStatement } from "./memo-statement.js";
import type { GatingCandidate } from "../domain/gating.js";
import {
  LIMIT_MARGIN,
  canceledCausesDelete,
  dbKey,
  baseColumns,
  baseJoins,
  blockerColumns,
  blockerJoin,
  nextRunAtSql,
  stageWaitJoin,
  taskProbe,
  toCandidate,
  type CandidateRow,
  type GatingChanges,
} from "./gating-candidates.js";
import { controlsCannotHold, gatingApplyStages } from "./gating-stages.js";
import { databaseHolderSql } from "./holder.js";
import { autoRunDueSql, breakersDueSql, type AutoRunDue, type BreakerToTrip } from "./gating-controls.js";
import { noRunWaiting } from "./transitions/claim.js";

/**
 * DATABASE_BUSY runs a live pass reads per freed database (task_run_wait_db_busy_idx, in decide()'s order):
 * the first that no other gate holds takes it. More than one, so a few held by their rollout's limit or a
 * release control do not cost a pass each.
 */
export const BUSY_WAITERS = 4;

/**
 * The live pass's read, in one statement (issue 19: a live pass's time was mostly round trips, and the
 * parsing and planning of a dozen statements on every pass): which runs to evaluate, what decide() needs
 * about each, the occupancy of their databases and rollouts, and the pass's end mark (`last_pass_at`,
 * the next run-at to wake for). Sent as a prepared statement: every input is an array or a scalar, and
 * every lookup is forced to an index probe (LATERAL … OFFSET 0), so the generic plan PostgreSQL may settle
 * on after five runs is the plan whatever the arrays' sizes (checked with EXPLAIN, docs/benchmarks.md §8).
 */

export interface LiveLoad {
  candidates: GatingCandidate[];
  /** dbKey → task id of the AVAILABLE/RUNNING sequential run or RUNNING dry run, for the candidates' databases. */
  busy: Map<string, string>;
  /** AVAILABLE + RUNNING runs of the candidates' rollouts (rollouts without any are absent). */
  active: Map<string, number>;
  /** The earliest future run-at or retry time among PENDING runs: when the scheduler must wake. */
  nextRunAt: Date | null;
  /** dbKeys of the candidates' databases where sequential runs that are not candidates wait for their rollout's limit. */
  limitWaiting: Set<string>;
  /** dbKeys of the candidates' databases where more runs wait DATABASE_BUSY than a freed database's read takes. */
  busyMore: Set<string>;
  /** The release controls due in the changed rollouts, when asked for (gatingApplyControls acts on them). */
  controls: { breakers: BreakerToTrip[]; autoRun: AutoRunDue[] };
  /**
   * Whether no run was AVAILABLE in the read's snapshot. Only then may the promote claim runs for the pass's
   * replica (promoteStatement claims only while none waits for an executor), so only then does the pass hold
   * that replica's free slots for it (PendingScheduler.livePass).
   */
  noneAvailable: boolean;
}

/**
 * The candidates' databases: instance, database, holder's task id (or null), limit_waiting, busy_more
 * (see LiveLoad).
 */
type OccBusy = [string, string, string | null, boolean, boolean];
/** The occupancy, on one row only (the last candidate's, or the single row when there is none). */
type Occupancy = {
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
interface LiveValues {
  now: Date;
  since: Date;
  runs: string[];
  inst: string[];
  dbs: string[];
  vfrom: (string | null)[];
  tinst: string[];
  tdbs: string[];
  tkeys: string[];
  rids: string[];
  rall: boolean[];
  /** The rollouts whose release controls to read (see gatingLoadLive). */
  crids: string[];
}

/** The live read, built once per count of busy waiters (see memoStatement): on the pickup path of every run a gate holds. */
export const liveReadMemo = memoStatement<LiveValues, number, LiveRow>((v, busyWaiters) =>
  prepared(sql<LiveRow>`
    WITH done AS (
      UPDATE gating_state SET last_pass_at = ${v.now} WHERE id = 1
      RETURNING ${nextRunAtSql(v.now)} AS next_run_at, ${noRunWaiting} AS none_available
    ),
    gone AS (${canceledCausesDelete(v.runs)}),
    cand AS (
      -- New runs, never evaluated.
      SELECT unnest(${v.runs}::bigint[]) AS id
      UNION
      -- Runs whose run-at time arrived since the last pass.
      SELECT r.id FROM task_run r
      WHERE r.status = 'PENDING' AND r.run_at IS NOT NULL AND r.run_at > ${v.since} AND r.run_at <= ${v.now}
      UNION
      -- Runs whose retry time (after an unreachable target) arrived since the last pass.
      SELECT r.id FROM task_run r
      WHERE r.status = 'PENDING' AND r.retry_at IS NOT NULL AND r.retry_at > ${v.since} AND r.retry_at <= ${v.now}
      UNION
      -- A database whose sequential run ended: a run there can change only if it is sequential and not
      -- held by version order or a gate before it. Of its DATABASE_BUSY runs only the first few in decide()'s
      -- order: one of them may take the database, and the rest keep their cause whoever holds it next (the
      -- API names the holder live); if it stays free, the pass marks it again for the next few (busy_more).
      -- Retried blockers there go first whatever they wait for. Once the database is busy again, its
      -- sequential limit-held runs wait on it instead. The smallest pending version may go; new versioned
      -- tasks may hold runs above them. (LATERAL … OFFSET 0 keeps each lookup an index probe.)
      SELECT x.id FROM unnest(${v.inst}::text[], ${v.dbs}::text[], ${v.vfrom}::text[]) AS d(i, n, vf)
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
        SELECT r.id FROM task_run r
        WHERE r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING'
          AND r.schema_version_key = (
            SELECT min(m.schema_version_key) FROM task_run m
            WHERE m.instance_id = d.i AND m.database_name = d.n AND m.status = 'PENDING' AND m.schema_version_key IS NOT NULL)
        UNION ALL
        SELECT r.id FROM task_run r
        WHERE d.vf IS NOT NULL AND r.instance_id = d.i AND r.database_name = d.n AND r.status = 'PENDING'
          AND r.schema_version_key > (d.vf COLLATE "C")
        OFFSET 0
      ) x
      UNION
      -- Runs held by a version that became DONE or SKIPPED: those between it and the next unfinished
      -- version above it on the same database (their nearest smaller unfinished version was it). The
      -- same runs when it became FAILED or CANCELED or was retried (BLOCKED_BY_FAILED starts or stops).
      SELECT x.id FROM unnest(${v.tinst}::text[], ${v.tdbs}::text[],
        ${v.tkeys}::text[]) AS v(i, n, k)
      CROSS JOIN LATERAL (
        SELECT min(t.schema_version_key) AS next_key FROM task t
        WHERE t.instance_id = v.i AND t.database_name = v.n AND t.schema_version IS NOT NULL
          AND t.unfinished AND t.schema_version_key > (v.k COLLATE "C")
      ) nx
      -- Two branches, not one OR: the upper bound must reach the index condition, or every pending version
      -- above the task is read and filtered (~1,000 index entries a task at 1M pending runs). Without a
      -- next unfinished version no PENDING run can be above (its own task would be one), but they are read all the same.
      CROSS JOIN LATERAL (
        SELECT r.id FROM task_run r
        WHERE nx.next_key IS NOT NULL AND r.instance_id = v.i AND r.database_name = v.n AND r.status = 'PENDING'
          AND r.schema_version_key IS NOT NULL AND r.schema_version_key > (v.k COLLATE "C") AND r.schema_version_key <= nx.next_key
        UNION ALL
        SELECT r.id FROM task_run r
        WHERE nx.next_key IS NULL AND r.instance_id = v.i AND r.database_name = v.n AND r.status = 'PENDING'
          AND r.schema_version_key IS NOT NULL AND r.schema_version_key > (v.k COLLATE "C")
        OFFSET 0
      ) x
      UNION
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
      ) l
      UNION
      -- Retried blockers of freed rollouts go first (decide() orders them ahead), wherever they queue.
      SELECT a.id FROM unnest(${v.rids}::bigint[]) AS x(rid)
      CROSS JOIN LATERAL (SELECT r.id FROM task_run r WHERE r.rollout_id = x.rid AND r.status = 'PENDING' AND r.ahead OFFSET 0) a
      UNION
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
      WHERE CASE WHEN EXISTS (SELECT 1 FROM run_wait h WHERE h.type = 'STAGE_GATE' AND (h.cause ->> 'stageId')::bigint = s.id)
        THEN NOT EXISTS (SELECT 1 FROM task t WHERE t.stage_id = s.id AND t.unfinished) ELSE false END
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
        (SELECT coalesce(json_agg(json_build_array(b.id::text, b.failures) ORDER BY b.id), '[]')
          FROM (${breakersDueSql(sql`${v.crids}::bigint[]`)}) b) AS ctl_breakers,
        (SELECT coalesce(json_agg(json_build_array(a.rollout_id::text, a.task_ids) ORDER BY a.rollout_id), '[]')
          FROM (${autoRunDueSql(sql`${v.crids}::bigint[]`)}) a) AS ctl_auto
    )
    SELECT done.next_run_at, done.none_available, c.*, o.occ_busy, o.occ_active, o.occ_free, o.ctl_breakers, o.ctl_auto
    FROM done
    LEFT JOIN c ON true
    LEFT JOIN occ o ON c.id IS NULL OR c.id = (SELECT max(l.id) FROM c l)`),
);

/**
 * The live pass's candidates: only runs whose situation may have changed since they were last evaluated.
 * A run not selected here still has its recorded cause (see docs/scheduler.md for the argument). Also
 * records the pass (what gatingMarkPassDone does for a full pass): the run-at window's start is `now`,
 * and the next run-at is read in this statement's snapshot, which this pass's promotions cannot change
 * (they only take runs whose run-at is not in the future). Then the stage facts of candidates a release
 * control may hold (one more statement when there are any). With `controls`, also the release controls due
 * in the changed rollouts, in the same snapshot: a caller that acts on any must read again.
 */
export async function gatingLoadLive(
  trx: Db,
  changes: GatingChanges,
  now: Date,
  busyWaiters: number = BUSY_WAITERS,
  controls = false,
): Promise<LiveLoad> {
  if (!Number.isInteger(busyWaiters) || busyWaiters < 1) throw new Error(`busy waiters must be a positive integer, got ${busyWaiters}`);
  const values: LiveValues = {
    now,
    since: changes.lastPassAt ?? new Date(0),
    runs: changes.runs,
    inst: changes.dbs.map((d) => d.instanceId),
    dbs: changes.dbs.map((d) => d.database),
    vfrom: changes.dbs.map((d) => d.versionFrom),
    tinst: changes.tasks.map((t) => t.instanceId),
    tdbs: changes.tasks.map((t) => t.database),
    tkeys: changes.tasks.map((t) => t.versionKey),
    rids: changes.rollouts.map((r) => r.rolloutId),
    rall: changes.rollouts.map((r) => r.allLimited),
    crids: controls ? changes.rollouts.map((r) => r.rolloutId) : [],
  };
  const { rows } = await liveReadMemo.run(trx, busyWaiters, values);
  const out: LiveLoad = {
    candidates: [],
    busy: new Map(),
    active: new Map(),
    nextRunAt: rows[0]?.next_run_at ?? null,
    noneAvailable: rows[0]?.none_available ?? true,
    limitWaiting: new Set(),
    busyMore: new Set(),
    controls: { breakers: [], autoRun: [] },
  };
  let freeStages = new Set<string>();
  for (const row of rows) {
    if (row.occ_busy !== null) {
      const o = row as Occupancy;
      for (const [i, n, holder, limitWaiting, busyMore] of o.occ_busy) {
        const k = dbKey(i, n);
        if (holder !== null) out.busy.set(k, holder);
        if (limitWaiting) out.limitWaiting.add(k);
        if (busyMore) out.busyMore.add(k);
      }
      for (const [rollout, n] of o.occ_active) out.active.set(rollout, n);
      freeStages = new Set(o.occ_free);
      out.controls = {
        breakers: o.ctl_breakers.map(([rolloutId, failures]) => ({ rolloutId, failures })),
        autoRun: o.ctl_auto.map(([rolloutId, taskIds]) => ({ rolloutId, taskIds })),
      };
    }
    if (row.id !== null) out.candidates.push(toCandidate(row as CandidateRow));
  }
  const free = new Set(out.candidates.filter((c) => freeStages.has(c.stageId)).map((c) => c.runId));
  await gatingApplyStages(trx, out.candidates, free);
  return out;
}
