import type { Db } from "../store/db.js";
import { gatingFailOrphans, gatingPromote, gatingWriteCauses, gatingWriteStageCauses } from "../store/gating.js";
import { approvalWaitsRecord } from "../store/webhook-approvals.js";
import type { ClaimedRun } from "../store/transitions/claim.js";
import type { SlotHold } from "./running-scheduler.js";
import { causeRecords } from "../domain/cause-records.js";
import { decideBatch, withPromoted, type GatingCandidate, type GatingDecision, type GatingState } from "../domain/gating.js";

/**
 * What both kinds of pending pass do with a set of candidates (PendingScheduler: a live pass's, or each batch
 * of a full pass's): decide and promote them, then record the rest of the decision.
 */

/** A pass's transaction and what its writes need of its replica. */
export interface PassWriter {
  trx: Db;
  replicaId: string;
  /** The replica's free executor slots, held for a live pass's promote to claim into (RunningScheduler.hold). */
  claimSlots?: () => SlotHold | undefined;
}

/**
 * decide(), then promote; a run only counts against a gate if its promotion was written. A promotion
 * whose compare-and-set failed (the run was canceled after the pass read it) is taken out and the rest
 * decided again, with the promotions written so far counted as active — so what the canceled run would
 * have blocked can go in this very pass, and no cause names it. Bounded: each round needs a cancel
 * that raced this pass.
 *
 * `last`: when `last.when(decision)` says the first round's promote is all the pass has left to write, it goes
 * with the transaction's COMMIT (`last.ended.committed` is then set), and there is no second round: what a
 * raced cancel would have let through is decided by the next pass, which the cancel's own marks call for.
 */
export async function decideAndPromote(
  w: PassWriter,
  candidates: GatingCandidate[],
  state: GatingState,
  claim?: PassClaim,
  last?: { when: (decision: GatingDecision) => boolean; ended: { committed: boolean } },
): Promise<Decided> {
  const promoted: GatingCandidate[] = [];
  let left = candidates;
  let s = state;
  for (let round = 0; ; round++) {
    const { decision, state: next } = decideBatch(left, s);
    // A live pass that promotes takes this replica's free slots (once) for its promote to claim into.
    if (claim && decision.promote.length > 0 && claim.hold === undefined) claim.hold = w.claimSlots?.() ?? null;
    const slots = claim?.hold ? claim.hold.claim.limit - claim.claimed.length : 0;
    const commit = round === 0 && decision.promote.length > 0 && last !== undefined && last.when(decision);
    const { promoted: written, claimed } = await gatingPromote(
      w.trx,
      decision.promote.map((c) => c.runId),
      s.now,
      w.replicaId,
      claim?.hold && slots > 0 ? { ...claim.hold.claim, limit: slots } : undefined,
      commit,
    );
    claim?.claimed.push(...claimed);
    if (commit) {
      // The pass has committed: no second round (see `last`).
      last.ended.committed = true;
      const ok = decision.promote.filter((c) => written.has(c.runId));
      return { decision: { ...decision, promote: ok }, state: withPromoted(s, ok) };
    }
    if (written.size === decision.promote.length) {
      promoted.push(...decision.promote);
      return { decision: { ...decision, promote: promoted }, state: next };
    }
    const ok = decision.promote.filter((c) => written.has(c.runId));
    promoted.push(...ok);
    s = withPromoted(s, ok);
    if (round >= 3) return { decision: { ...decision, promote: promoted }, state: s };
    const gone = new Set(decision.promote.filter((c) => !written.has(c.runId)).map((c) => c.runId));
    left = left.filter((c) => !gone.has(c.runId) && !written.has(c.runId));
  }
}

/**
 * Records a decision over `candidates`: run causes on the runs, release controls' on their stages
 * (causeRecords). `fresh`: the runs read without a cause under the real pass lock, whose causes are plain
 * inserts (gatingWriteCauses).
 */
export async function recordDecision(
  w: PassWriter,
  decision: GatingDecision,
  candidates: readonly GatingCandidate[],
  now: Date,
  fresh: ReadonlySet<string> = new Set(),
): Promise<void> {
  const { trx } = w;
  const records = causeRecords(decision, candidates);
  await gatingWriteCauses(
    trx,
    records.runs.filter((c) => fresh.has(c.runId)),
    true,
  );
  await gatingWriteCauses(
    trx,
    records.runs.filter((c) => !fresh.has(c.runId)),
  );
  // After the run causes: a freed stage's row goes once every PENDING run there has its own.
  await gatingWriteStageCauses(trx, records);
  await approvalWaitsRecord(trx, { stages: records.approvals, now });
  await gatingFailOrphans(trx, decision.fail, now, w.replicaId);
}

/** Whether recordDecision would write nothing for this decision: no cause, no stage's row, no approval wait, no orphan. */
export function recordsNothing(decision: GatingDecision, candidates: readonly GatingCandidate[]): boolean {
  // A decision with causes (a gated drain's usual one) writes them: answered without splitting it, which
  // recordDecision does once more. Without causes, causeRecords' runs, stages and held are empty.
  if (decision.fail.length > 0 || decision.causes.length > 0) return false;
  const r = causeRecords(decision, candidates);
  return r.freed.length === 0 && r.approvals.length === 0;
}

/** A live pass's claim for its replica: the slots held (undefined: not asked yet; null: none free), and the runs its promotes claimed. */
export interface PassClaim {
  hold: SlotHold | null | undefined;
  claimed: ClaimedRun[];
}

/** decide()'s outcome with only written promotions, and the state the next batch is decided against. */
export type Decided = { decision: GatingDecision; state: GatingState };

/** What a pass did, before the statements every pass ends with. */
export interface PassOutcome {
  candidates: number;
  promoted: number;
  causesWritten: number;
  failed: number;
  /** Databases and rollouts marked for the next pass. */
  revisits: number;
  /** Rollouts with new causes and no promotion (those notify the dashboard here). */
  touched: Set<string>;
}
