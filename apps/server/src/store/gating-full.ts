import { sql } from "kysely";
import type { Db } from "./db.js";
import { applyStageGates, type GatingCandidate, type StageFacts } from "../domain/gating.js";
import { baseColumns, baseJoins, blockerColumns, blockerJoin, taskJoin, toCandidate, type CandidateRow } from "./gating-candidates.js";
import { gatingLoadStages, stageProgressFold } from "./gating-stages.js";

/**
 * The full pass's read: every PENDING run, in decide()'s order (domain/gating.ts, fifo), handed out in
 * batches so the replica's memory follows the batch size, not the backlog (issue 19: 1M pending runs).
 */

/** Runs per batch of a full pass: ~10 MB of candidates, a few tens of ms of decide() between statements. */
export const FULL_PASS_BATCH = 10_000;

/**
 * Every PENDING run with what decide() needs, ordered as fifo orders them: created_at is truncated to the
 * millisecond as node-postgres reads it, so ties within a millisecond go by id in both. Version blockers
 * are one index probe per versioned run (task_open_version_idx): memory per batch, where one read of
 * every open version (the earlier design) grew with the backlog.
 */
const pendingQuery = sql<CandidateRow>`
  SELECT ${baseColumns}, ${blockerColumns}
  FROM task_run r ${baseJoins} ${taskJoin} ${blockerJoin}
  WHERE r.status = 'PENDING'
  ORDER BY r.ahead DESC, date_trunc('milliseconds', r.created_at), r.id`;

export interface PendingBatches {
  /** The next batch, in decide()'s order after the previous one's; empty once every PENDING run was read. */
  next(): Promise<GatingCandidate[]>;
}

/**
 * Opens the full pass's read in the pass's transaction: a cursor, so PostgreSQL evaluates and sorts the
 * runs once and every batch comes from the same snapshot, as one read of them all did. Each batch is one
 * FETCH (plus one read of the stage facts of rollouts not seen in an earlier batch); the caller writes a
 * batch's outcome before asking for the next, so the session is never idle for long (PASS_LOCK_IDLE_MS).
 * One cursor per transaction.
 */
export async function gatingOpenPending(trx: Db, batchSize: number = FULL_PASS_BATCH): Promise<PendingBatches> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  await sql`DECLARE gating_full_pass NO SCROLL CURSOR FOR ${pendingQuery}`.execute(trx);
  // The release controls' facts per rollout, read once per pass: every batch of a rollout sees the same.
  const stages = new Map<string, StageFacts[]>();
  let done = false;
  return {
    async next() {
      if (done) return [];
      const { rows } = await sql<CandidateRow>`FETCH FORWARD ${sql.lit(batchSize)} FROM gating_full_pass`.execute(trx);
      if (rows.length < batchSize) done = true;
      if (rows.length === 0) return [];
      const candidates = rows.map(toCandidate);
      await applyStages(trx, candidates, stages);
      return candidates;
    },
  };
}

async function applyStages(trx: Db, candidates: GatingCandidate[], cache: Map<string, StageFacts[]>): Promise<void> {
  const rollouts = [...new Set(candidates.map((c) => c.rolloutId))];
  const missing = rollouts.filter((id) => !cache.has(id));
  if (missing.length > 0) {
    for (const id of missing) cache.set(id, []);
    for (const s of await gatingLoadStages(trx, missing)) cache.get(s.rolloutId)!.push(s);
  }
  applyStageGates(
    candidates,
    rollouts.flatMap((id) => cache.get(id)!),
  );
}

/** Every PENDING run at once (one read, no cursor): what a full pass evaluates, for tests that hold a pass against it. */
export async function gatingLoadAllPending(trx: Db): Promise<GatingCandidate[]> {
  // Outside a pass, nothing has folded the stage progress yet (a pass does in gatingTakeChanges).
  await stageProgressFold(trx);
  const { rows } = await pendingQuery.execute(trx);
  const candidates = rows.map(toCandidate);
  await applyStages(trx, candidates, new Map());
  return candidates;
}
