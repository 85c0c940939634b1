import { WaitingCauseType, type WaitingCause } from "@runway/shared";
import { releaseControlCause, stageControls, type GatingCandidate, type GatingDecision, type StageFacts } from "./gating.js";

/**
 * Where a pass records the causes it decided (migration 0069). A release control's cause (PAUSED,
 * STAGE_GATE, APPROVAL_REQUIRED) depends only on the run's stage and rollout (applyStageGates), so every
 * PENDING run of a stage has the same one: it is recorded once, on the stage. Every other cause is the
 * run's own. A run's recorded cause is its own if it has one, else its stage's (the run_wait view).
 */

const STAGE_CAUSES: ReadonlySet<string> = new Set([
  WaitingCauseType.PAUSED,
  WaitingCauseType.STAGE_GATE,
  WaitingCauseType.APPROVAL_REQUIRED,
]);

/** Whether `cause` is a release control's, recorded on the stage. */
export const isStageCause = (cause: WaitingCause | null): boolean => cause !== null && STAGE_CAUSES.has(cause.type);

export interface CauseRecords {
  /** Causes recorded on their runs. */
  runs: { runId: string; cause: WaitingCause }[];
  /** A release control's cause per stage (the first of the stage's runs: they are all the same but for `since`). */
  stages: { stageId: string; rolloutId: string; cause: WaitingCause }[];
  /**
   * Runs now held by their stage's cause that were read with a cause: a row of their own (a run-level cause,
   * or a release control's written by a replica of the previous release) would shadow the stage's, and goes.
   */
  held: string[];
  /**
   * Stages with a run read with a release control's cause that none holds any more (promoted, failed, or
   * waiting on a cause of its own): their row goes once every PENDING run of the stage has a row of its own,
   * so a run not evaluated yet keeps the cause that names why it was held (gatingWriteStageCauses).
   */
  freed: string[];
  /**
   * The stages an approval holds a run of after this decision, newly or as recorded (webhook-approvals.ts
   * announces a stage's wait once per decision on it: a stage's row outlives a rejection that canceled its
   * runs, so a new run there is held by the recorded cause and is not in decision.causes).
   */
  approvals: { stageId: string; role: string }[];
}

/** Splits a decision over `candidates` (those it was decided from) into what is recorded where. */
export function causeRecords(decision: GatingDecision, candidates: readonly GatingCandidate[]): CauseRecords {
  const byRun = new Map(candidates.map((c) => [c.runId, c]));
  const decided = new Map(decision.causes.map((c) => [c.runId, c.cause]));
  const out: CauseRecords = { runs: [], stages: [], held: [], freed: [], approvals: [] };
  const stages = new Set<string>();
  for (const { runId, cause } of decision.causes) {
    if (!isStageCause(cause)) {
      out.runs.push({ runId, cause });
      continue;
    }
    const c = byRun.get(runId);
    if (!c) throw new Error(`decided run ${runId} is not one of the candidates`);
    if (c.cause !== null) out.held.push(runId);
    if (!stages.has(c.stageId)) {
      stages.add(c.stageId);
      out.stages.push({ stageId: c.stageId, rolloutId: c.rolloutId, cause });
    }
  }
  const gone = new Set([...decision.promote.map((c) => c.runId), ...decision.fail.map((f) => f.runId)]);
  const freed = new Set<string>();
  const approvals = new Map<string, string>();
  for (const c of candidates) {
    const now = gone.has(c.runId) ? null : (decided.get(c.runId) ?? c.cause);
    if (now?.type === WaitingCauseType.APPROVAL_REQUIRED) approvals.set(now.stageId, now.role);
    // Only a run read with a release control's cause can have been held by a row of its stage. One neither
    // promoted, failed nor in decision.causes keeps that cause. A stage with a run held here keeps its row
    // (a failed orphan beside held runs): the row is written in the same statement as the sweep.
    if (isStageCause(c.cause) && !stages.has(c.stageId) && !isStageCause(now)) freed.add(c.stageId);
  }
  out.freed = [...freed];
  out.approvals = [...approvals].map(([stageId, role]) => ({ stageId, role }));
  return out;
}

/**
 * The stages a release control holds, with the cause each of their runs would get (`since` is `now`): a full
 * pass records these on the stages and need not read their runs (gatingOpenPending).
 */
export function heldStages(facts: readonly StageFacts[], now: Date): { stageId: string; rolloutId: string; cause: WaitingCause }[] {
  const controls = stageControls(facts);
  const since = now.toISOString();
  return facts.flatMap((f) => {
    const cause = releaseControlCause(f.stageId, controls.get(f.stageId)!);
    return cause ? [{ stageId: f.stageId, rolloutId: f.rolloutId, cause: { ...cause, since } as WaitingCause }] : [];
  });
}
