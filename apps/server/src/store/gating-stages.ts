import { sql, type RawBuilder } from "kysely";
import { TASK_STATUS_ORDER, type TaskStatus } from "@runway/shared";
import { prepared, type Db } from "./db.js";
import { applyStageGates, type GatingCandidate, type StageFacts } from "../domain/gating.js";

/**
 * The release controls' facts for a pass (one statement): every stage of the candidates' rollouts, whether
 * it has an unfinished task (only where the rollout keeps its stages in order), its done/total counts, the
 * approval its environment's policy asks for and whether the latest decision approved it, and the
 * rollout's pause. Work follows the number of stages and of task changes since the last fold, never the
 * number of tasks: the gate is one probe of task_stage_open_idx per stage, and the counts come from
 * stage_progress, which the pass's first statement brought up to date (gatingTakeChanges folds the deltas
 * the task triggers appended, migrations 0058 and 0065).
 */
export async function gatingLoadStages(trx: Db, rolloutIds: string[] | "pending"): Promise<StageFacts[]> {
  if (rolloutIds !== "pending" && rolloutIds.length === 0) return [];
  // "pending": every rollout with a PENDING run (a full pass's, gatingHeldStages), one probe of
  // task_run_pending_rollout_idx per stage.
  const which =
    rolloutIds === "pending"
      ? sql`EXISTS (SELECT 1 FROM task_run r WHERE r.rollout_id = s.rollout_id AND r.status = 'PENDING')`
      : sql`s.rollout_id = ANY(${rolloutIds}::bigint[])`;
  const { rows } = await prepared(sql<{
    id: string;
    rollout_id: string;
    position: number;
    environment: string;
    in_order: boolean;
    open: boolean;
    done: number;
    total: number;
    approval: "none" | "releaser" | "admin";
    approved: boolean;
    paused_by: string | null;
    paused_at: Date | null;
    reason: string | null;
  }>`
    SELECT s.id, s.rollout_id, s.position, s.environment, ro.stage_order = 'IN_ORDER' AS in_order,
      -- The gate: exact in this statement's snapshot, whatever the counts say.
      ro.stage_order = 'IN_ORDER' AND EXISTS (SELECT 1 FROM task t WHERE t.stage_id = s.id AND t.unfinished) AS open,
      coalesce(sp.done, 0) AS done, coalesce(sp.total, 0) AS total,
      coalesce(ep.approval, 'none') AS approval,
      coalesce((SELECT a.decision = 'APPROVED' FROM stage_approval a WHERE a.stage_id = s.id ORDER BY a.id DESC LIMIT 1), false) AS approved,
      rp.paused_by, rp.paused_at, rp.reason
    FROM stage s
    JOIN rollout ro ON ro.id = s.rollout_id
    LEFT JOIN stage_progress sp ON sp.stage_id = s.id
    LEFT JOIN environment_policy ep ON ep.project_id = ro.project_id AND ep.environment = s.environment
    LEFT JOIN rollout_pause rp ON rp.rollout_id = s.rollout_id
    WHERE ${which}`).execute(trx);
  return rows.map((r) => ({
    stageId: r.id,
    rolloutId: r.rollout_id,
    position: r.position,
    environment: r.environment,
    inOrder: r.in_order,
    open: r.open,
    done: r.done,
    total: r.total,
    approval: r.approval,
    approved: r.approved,
    paused: r.paused_at ? { by: r.paused_by!, at: r.paused_at, reason: r.reason ?? "" } : null,
  }));
}

/** The column of stage_status_count (and stage_status_delta) that counts a status: its name in lower case (0067). */
export const statusCountColumn = (s: TaskStatus): string => s.toLowerCase();

/** stage_status_count's count columns, one per task status. */
export const STATUS_COUNT_COLUMNS = TASK_STATUS_ORDER.map(statusCountColumn);

/**
 * The fold of the deltas the task triggers appended into stage_progress and stage_status_count (migrations
 * 0058, 0067), as four CTEs (`sd`, `sf`, `cd`, `cf`) that delete only when `when` holds (a pass's lock).
 * Safe beside a pass: each delta row is deleted once.
 */
export const stageProgressFoldCtes = (when: RawBuilder<unknown>) => sql`
    sd AS (DELETE FROM stage_progress_delta WHERE ${when} RETURNING stage_id, total, done),
    sf AS (
      INSERT INTO stage_progress AS sp (stage_id, total, done)
      SELECT stage_id, sum(total), sum(done) FROM sd GROUP BY stage_id
      ON CONFLICT (stage_id) DO UPDATE SET total = sp.total + excluded.total, done = sp.done + excluded.done
    ),
    cd AS (DELETE FROM stage_status_delta WHERE ${when} RETURNING *),
    cf AS (
      INSERT INTO stage_status_count AS c (stage_id, ${sql.join(STATUS_COUNT_COLUMNS.map((x) => sql.ref(x)))})
      SELECT stage_id, ${sql.join(STATUS_COUNT_COLUMNS.map((x) => sql`sum(${sql.ref(x)})`))} FROM cd GROUP BY stage_id
      ON CONFLICT (stage_id) DO UPDATE SET ${sql.join(STATUS_COUNT_COLUMNS.map((x) => sql`${sql.ref(x)} = c.${sql.ref(x)} + excluded.${sql.ref(x)}`))}
    )`;

/** Folds now: a pass folds in its first statement (gatingTakeChanges); this is for reads outside one. */
export async function stageProgressFold(trx: Db): Promise<void> {
  await sql`WITH ${stageProgressFoldCtes(sql`true`)} SELECT 1`.execute(trx);
}

/**
 * Loads the facts of the candidates' rollouts and applies them (domain/gating.ts, applyStageGates). Only
 * rollouts with a run outside `free` (read true for controlsCannotHold in the pass's snapshot) are read:
 * a run whose rollout has no facts is one nothing holds, so a pass whose runs none can hold makes no
 * statement here.
 */
export async function gatingApplyStages(trx: Db, candidates: GatingCandidate[], free: ReadonlySet<string> = new Set()): Promise<void> {
  const read = [...new Set(candidates.filter((c) => !free.has(c.runId)).map((c) => c.rolloutId))];
  applyStageGates(candidates, read.length > 0 ? await gatingLoadStages(trx, read) : []);
}

/**
 * SQL condition (task `t`, rollout `ro`): no release control can hold a new run of the task — the rollout
 * is not paused, its stage needs no approval, and no earlier stage has unfinished tasks (or the rollout
 * ignores stage order). What holds now may stop holding, never the reverse, except a pause (which the
 * claim's guard covers) and a policy change (which requests a full pass).
 */
export const controlsCannotHold = (t: ReturnType<typeof sql.ref>, ro: ReturnType<typeof sql.ref>) => sql`(
  NOT EXISTS (SELECT 1 FROM rollout_pause rp WHERE rp.rollout_id = ${ro}.id)
  AND NOT EXISTS (SELECT 1 FROM stage st JOIN environment_policy ep ON ep.project_id = ${ro}.project_id AND ep.environment = st.environment
    WHERE st.id = ${t}.stage_id AND ep.approval <> 'none')
  AND (${ro}.stage_order = 'NONE' OR NOT EXISTS (
    SELECT 1 FROM stage st JOIN stage e ON e.rollout_id = st.rollout_id AND e.position < st.position
    JOIN task o ON o.stage_id = e.id AND o.unfinished
    WHERE st.id = ${t}.stage_id)))`;
