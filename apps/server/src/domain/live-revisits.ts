import type { GatingCandidate, GatingDecision } from "./gating.js";

/**
 * What a live pass marks for the next one (issue 19: a live pass reads only what may have changed, so a
 * cause it could not settle must be read again): decided from what the pass read and decided, no I/O.
 */
export interface LiveRevisitFacts {
  candidates: readonly GatingCandidate[];
  /** decide()'s outcome, with only the promotions that were written. */
  decision: Pick<GatingDecision, "promote" | "causes">;
  /** dbKeys of the databases whose sequential run ended (the pass's change records). */
  freed: ReadonlySet<string>;
  /** The rollouts in the pass's change records; `allLimited`: their limit itself changed. */
  rollouts: readonly { rolloutId: string; allLimited: boolean }[];
  /** The live read's occupancy (LiveLoad): holders, active runs per rollout, and its two marks. */
  busy: ReadonlyMap<string, string>;
  active: ReadonlyMap<string, number>;
  limitWaiting: ReadonlySet<string>;
  busyMore: ReadonlySet<string>;
  /** Limit-held runs the live read takes past a rollout's free slots (LIMIT_MARGIN). */
  limitMargin: number;
}

/**
 * Databases (dbKeys) and rollouts whose waiting runs this pass could not all settle:
 * - a database taken by a sequential promotion while sequential runs wait there for their rollout's limit
 *   (runs the pass did not read, or read and left limit-held before the promotion came in decide()'s order):
 *   they wait on the database now (DATABASE_BUSY comes first), and the next pass reads them because it is busy;
 * - a database freed and still free, with more DATABASE_BUSY runs than the read took (the ones read are held
 *   by another gate now): the next pass reads the next few (BUSY_WAITERS);
 * - a rollout whose limit-held runs were cut at its free slots + margin (some stale) and that still has free
 *   slots: it may have more to promote.
 */
export function liveRevisits(f: LiveRevisitFacts): { dbs: string[]; rollouts: string[] } {
  const { candidates, decision, active } = f;
  const taken = new Set(decision.promote.filter((c) => c.sequential).map((c) => c.dbKey));
  const newCause = new Map(decision.causes.map((c) => [c.runId, c.cause.type]));
  const promotedIds = new Set(decision.promote.map((c) => c.runId));
  const limitHeldHere = new Set(
    candidates
      .filter((c) => c.sequential && !promotedIds.has(c.runId) && (newCause.get(c.runId) ?? c.cause?.type) === "PARALLEL_LIMIT")
      .map((c) => c.dbKey),
  );
  const dbs = [...new Set(candidates.map((c) => c.dbKey))].filter((k) =>
    taken.has(k) ? f.limitWaiting.has(k) || limitHeldHere.has(k) : f.freed.has(k) && !f.busy.has(k) && f.busyMore.has(k),
  );

  const limitHeld = new Map<string, number>();
  const limitOf = new Map<string, number>();
  for (const c of candidates) {
    limitOf.set(c.rolloutId, c.limit);
    if (c.cause?.type === "PARALLEL_LIMIT") limitHeld.set(c.rolloutId, (limitHeld.get(c.rolloutId) ?? 0) + 1);
  }
  const promotedIn = new Map<string, number>();
  for (const c of decision.promote) promotedIn.set(c.rolloutId, (promotedIn.get(c.rolloutId) ?? 0) + 1);
  const rollouts = f.rollouts
    .filter((r) => {
      const limit = limitOf.get(r.rolloutId) ?? 0;
      if (r.allLimited || limit === 0) return false;
      const activeNow = (active.get(r.rolloutId) ?? 0) + (promotedIn.get(r.rolloutId) ?? 0);
      const cap = Math.max(limit - (active.get(r.rolloutId) ?? 0), 0) + f.limitMargin;
      return activeNow < limit && (limitHeld.get(r.rolloutId) ?? 0) >= cap;
    })
    .map((r) => r.rolloutId);
  return { dbs, rollouts };
}
