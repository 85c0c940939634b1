import {
  FULL_PASS_FIRST_BATCH,
  gatingHeldStages,
  gatingLoadOccupancy,
  gatingOpenPending,
  gatingRecordHeldStages,
  type PendingReader,
} from "../store/gating.js";
import { approvalWaitsRecord } from "../store/webhook-approvals.js";
import type { GatingState } from "../domain/gating.js";
import { decideAndPromote, recordDecision, type Decided, type PassOutcome, type PassWriter } from "./pass-decisions.js";

/** How a full pass reads and trusts (see fullPass). */
export interface FullPassOptions {
  /** PENDING runs read and decided at a time (gatingOpenPending). */
  batchSize: number;
  /** The first batch's size, doubled batch by batch up to batchSize; default FULL_PASS_FIRST_BATCH (at most batchSize). */
  firstBatchSize?: number;
  /**
   * Whether the pass holds the real pass lock: then no other pass writes causes meanwhile, so a run read
   * without one still has none when its batch is written (a plain insert). An injected PassLock (tests, the
   * chaos harness's broken lock) is not trusted so.
   */
  trustedLock: boolean;
  /**
   * Commits what the pass wrote so far and goes on in a new transaction under the same lock
   * (gatingPassCheckpoint): after a batch that promoted runs, when more may follow, so those runs start
   * while the rest is decided. Only with the readers, whose transactions (and cursors) outlive the pass's.
   */
  checkpoint?: () => Promise<void>;
}

/**
 * Every PENDING run, read in batches in decide()'s order; each batch is decided against the state the
 * batches before it left (decideBatch), all in this transaction under the pass lock. Memory follows the
 * batch size, and no gap between statements follows the backlog (the lock's idle bound ends a session idle
 * for PASS_LOCK_IDLE_MS). A batch's promotions are written before the next batch is decided (a failed
 * one changes what it may take); its causes are written while Node decides the next batch, since no
 * decision reads them: PostgreSQL and Node work at the same time, the statements still one after another
 * on the pass's session (at 100k runs the pass was PostgreSQL's time plus Node's; now it is mostly the former).
 * With `via`, the batches are read on reader sessions in the pass's snapshot, beside those writes, and with
 * `opts.checkpoint` the pass commits after each batch that promoted runs, holding its lock throughout: it decides
 * as one transaction would (the same snapshot's runs, the occupancy carried from batch to batch), but what it
 * promoted runs while it goes on. A finish meanwhile frees a slot the pass still counts as taken, as a finish
 * during a pass always did: it is marked for the next live pass.
 */
export async function fullPass(w: PassWriter, now: Date, opts: FullPassOptions, via?: PendingReader): Promise<PassOutcome> {
  const { trx } = w;
  // The release controls first: the runs of a stage one holds are recorded on the stage and not read.
  const held = await gatingHeldStages(trx, now);
  const heldChanged = await gatingRecordHeldStages(trx, held);
  await approvalWaitsRecord(trx, {
    stages: held.stages.flatMap((s) => (s.cause.type === "APPROVAL_REQUIRED" ? [{ stageId: s.stageId, role: s.cause.role }] : [])),
    now,
  });
  // A first size above the batch size is capped by the ramp (rampSize).
  const batches = await gatingOpenPending(trx, { first: opts.firstBatchSize ?? FULL_PASS_FIRST_BATCH, max: opts.batchSize }, via, held);
  // Every database and rollout, read before the first batch: once a batch is handed out, the next one's
  // FETCH is on the session, and a statement sent after it would hold the first decisions back.
  let state: GatingState = { now, ...(await gatingLoadOccupancy(trx, null, null)) };
  const out: PassOutcome = { candidates: 0, promoted: 0, causesWritten: 0, failed: 0, revisits: 0, touched: new Set(heldChanged) };
  const promotedIn = new Set<string>();
  // A run read without a cause gets a plain insert only under the real pass lock (FullPassOptions.trustedLock).
  const fresh = opts.trustedLock;
  let writing: Promise<void> = Promise.resolve();
  // A statement after a failed write fails only because the transaction is aborted: report the write's error.
  const afterWrites = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      await writing;
      throw e;
    }
  };
  for (let batch = await afterWrites(batches.next()); batch.length > 0; batch = await afterWrites(batches.next())) {
    // Typed: `writing` below uses r, and afterWrites reads `writing`, which TypeScript cannot infer around.
    const r: Decided = await afterWrites(decideAndPromote(w, batch, state));
    state = r.state;
    // One write in flight at most: the previous batch's ran while this one was decided, and decisions
    // must not pile up in memory behind a slower server.
    await writing;
    // The batch's promotions committed before its causes: no other pass can look for the causes meanwhile, and
    // the executors get the runs a batch's causes earlier. A batch shorter than asked for is the last.
    if (opts.checkpoint && r.decision.promote.length > 0 && batches.more()) await opts.checkpoint();
    writing = recordDecision(
      w,
      r.decision,
      batch,
      now,
      fresh ? new Set(batch.filter((c) => c.cause === null).map((c) => c.runId)) : undefined,
    );
    // Awaited next round, below or by afterWrites; the pass fails either way, and the rejection is not unhandled.
    writing.catch(() => {});
    const rolloutOf = new Map(batch.map((c) => [c.runId, c.rolloutId]));
    for (const c of r.decision.causes) out.touched.add(rolloutOf.get(c.runId)!);
    for (const c of r.decision.promote) promotedIn.add(c.rolloutId);
    out.candidates += batch.length;
    out.promoted += r.decision.promote.length;
    out.causesWritten += r.decision.causes.length;
    out.failed += r.decision.fail.length;
  }
  await writing;
  for (const id of promotedIn) out.touched.delete(id);
  return out;
}
