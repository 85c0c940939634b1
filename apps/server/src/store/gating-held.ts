import { sql, type RawBuilder } from "kysely";
import type { WaitingCause } from "@runway/shared";
import { prepared, type Db } from "./db.js";
import { heldStages } from "../domain/cause-records.js";
import type { StageFacts } from "../domain/gating.js";
import { gatingLoadStages } from "./gating-stages.js";

/**
 * A full pass's release controls, read before its runs (issue 19): in the benchmark's backlog two thirds of
 * the PENDING runs belong to a stage a release control holds, each of which would be read, sorted, sent and
 * decided only to get the stage's cause (migration 0069 records it once, on the stage).
 */
export interface HeldStages {
  /** The release controls' facts of every rollout with a PENDING run: what the pass decides with. */
  facts: StageFacts[];
  /** The stages a release control holds, with the cause recorded for them. */
  stages: { stageId: string; rolloutId: string; cause: WaitingCause }[];
}

export async function gatingHeldStages(trx: Db, now: Date): Promise<HeldStages> {
  const facts = await gatingLoadStages(trx, "pending");
  return { facts, stages: heldStages(facts, now) };
}

/**
 * Records the held stages' causes, in one statement: each stage's row, rewritten only when the cause changed
 * (as decide() compares causes: not for `since`, nor STAGE_GATE's counts, which the API serves live), and
 * the rows of stages no longer held that no PENDING run needs (every PENDING run there has a row of its own:
 * a run still reading the stage's cause is read by this pass and freed by its batch, gatingWriteStageCauses).
 * Returns the rollouts whose stages' causes changed, for the dashboard's feed.
 */
export async function gatingRecordHeldStages(trx: Db, held: HeldStages): Promise<string[]> {
  const ids = held.stages.map((s) => s.stageId);
  const { rows } = await prepared(sql<{ rollout_id: string }>`
    WITH up AS (${stageCausesUpsert(held.stages)} RETURNING rollout_id),
    gone AS (
      DELETE FROM stage_wait s WHERE s.stage_id <> ALL(${ids}::bigint[]) AND ${stageRowUnneeded(sql.ref("s"))}
      RETURNING rollout_id
    )
    SELECT rollout_id::text AS rollout_id FROM up UNION SELECT rollout_id::text FROM gone`).execute(trx);
  return rows.map((r) => r.rollout_id);
}

/**
 * Upserts stages' causes (a statement to put in a CTE): a row is rewritten only when its cause changed as
 * decide() compares causes (domain/gating.ts sameCause: not for `since`, nor STAGE_GATE's counts, which the
 * API serves live), so a stage's `since` stays while the same control holds it.
 */
export function stageCausesUpsert(stages: readonly { stageId: string; rolloutId: string; cause: WaitingCause }[]): RawBuilder<unknown> {
  const doc = JSON.stringify(stages.map((s) => [s.stageId, s.rolloutId, s.cause]));
  return sql`
    INSERT INTO stage_wait AS sw (stage_id, rollout_id, type, cause)
    SELECT (e ->> 0)::bigint, (e ->> 1)::bigint, e -> 2 ->> 'type', e -> 2 FROM jsonb_array_elements(${doc}::jsonb) AS e
    ON CONFLICT (stage_id) DO UPDATE SET type = excluded.type, cause = excluded.cause
    WHERE sw.type <> excluded.type OR (sw.cause - 'since' - 'done' - 'total') <> (excluded.cause - 'since' - 'done' - 'total')`;
}

/**
 * SQL condition on the stage_wait row aliased `s`: no PENDING run of its stage reads it, every one having a
 * task_run_wait row of its own (which wins in run_wait), so the row may go.
 */
export const stageRowUnneeded = (s: ReturnType<typeof sql.ref>) => sql`NOT EXISTS (
  SELECT 1 FROM task t JOIN task_run r ON r.task_id = t.id AND r.status = 'PENDING'
  WHERE t.stage_id = ${s}.stage_id AND t.unfinished AND NOT EXISTS (SELECT 1 FROM task_run_wait x WHERE x.run_id = r.id))`;
