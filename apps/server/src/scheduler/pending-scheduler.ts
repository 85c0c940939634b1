import type { Db } from "../store/db.js";
import {
  LIMIT_MARGIN,
  PENDING_PASS_LOCK,
  dbKey,
  FULL_PASS_BATCH,
  gatingFullPassPlans,
  gatingLoadLive,
  gatingMarkForNextPass,
  gatingMarkPassDone,
  gatingWithReaders,
  FULL_PASS_READERS,
  PASS_LOCK_IDLE_MS,
  gatingPassTransaction,
  gatingDropCanceledCauses,
  gatingPassCheckpoint,
  gatingDiscardPlans,
  gatingAnalyze,
  PLAN_TABLES,
  notifyChange,
  type GatingChanges,
  type PassLock,
} from "../store/gating.js";
import { gatingApplyControls, gatingAutoRun, gatingTripBreakers } from "../store/gating-controls.js";
import type { Clock } from "./clock.js";
import type { SlotHold } from "./running-scheduler.js";
import { dbKeyParts, type GatingDecision } from "../domain/gating.js";
import { liveRevisits } from "../domain/live-revisits.js";
import { fullPass, type FullPassOptions } from "./full-pass.js";
import { decideAndPromote, recordDecision, recordsNothing, type PassClaim, type PassOutcome, type PassWriter } from "./pass-decisions.js";
import { planFreshness, statsOutgrown, type PlanBasis } from "./plan-basis.js";

export interface PassResult {
  kind: "full" | "live";
  candidates: number;
  promoted: number;
  /** Of those, claimed for this replica in the promote (RUNNING, started). */
  claimed: number;
  causesWritten: number;
  failed: number;
  nextRunAt: Date | null;
  /** Work was left for the next pass (revisits): run another pass soon. */
  more: boolean;
  durationMs: number;
}

/**
 * The pending scheduler: PENDING → AVAILABLE. Runs in every replica; a transaction-scoped advisory lock
 * makes passes of different replicas take turns, so two replicas can never together break a gate (a full pass
 * that commits as it goes holds it across its commits: FullPassOptions.checkpoint).
 *
 * A *live* pass re-evaluates only runs whose situation changed (recorded by writers in gating_dirty_*),
 * new runs and runs whose run-at time arrived. A *full* pass evaluates every PENDING run; it runs when
 * requested (deletions), on a replica's first pass unless another replica's full pass began since this one
 * started, and every `fullPassIntervalMs` as a safety net.
 */
export class PendingScheduler {
  private fullDue = true;
  /** When this replica started (the control database's time): see firstPassFull. */
  private startedAt: Date | undefined;
  /** What the pass session's cached plans were costed for: see plan-basis.ts. */
  private planBasis: PlanBasis | undefined;
  /** The sizes at which this replica last asked for an ANALYZE of each of PLAN_TABLES (see statsOutgrown). */
  private analyzedAt: number[] = [];
  /** Tables the last pass found past their statistics, their sizes and their statistics' bytes: analyzed after it committed. */
  private toAnalyze: { table: number; size: number; statBytes: number }[] = [];

  constructor(
    private readonly deps: {
      /** Where passes run their transaction (a replica's own session, see SchedulerRuntime). */
      db: Db;
      /** Where a full pass's readers come from (gatingWithReaders); default `db`, which must then have room for them. */
      readersDb?: Db;
      clock: Clock;
      replicaId: string;
      fullPassIntervalMs: number;
      /** How long a frozen pass may keep the lock (see tryXactLock). */
      lockIdleTimeoutMs?: number;
      /** How passes of different replicas take turns; default advisoryLock (see PassLock). */
      lock?: PassLock;
      /** DATABASE_BUSY runs a live pass reads per freed database; default BUSY_WAITERS. */
      busyWaiters?: number;
      /** PENDING runs a full pass reads and decides at a time; default FULL_PASS_BATCH. */
      fullPassBatchSize?: number;
      /** A full pass's first batch, doubled batch by batch up to fullPassBatchSize; default FULL_PASS_FIRST_BATCH. */
      fullPassFirstBatchSize?: number;
      /**
       * The pooled sessions a full pass reads its runs on besides its own (gatingWithReaders); default
       * FULL_PASS_READERS. The pool needs this many connections more than the pass's; 0 reads on the pass's session.
       */
      fullPassReaders?: number;
      onPass?: (r: PassResult) => void;
      /**
       * This replica's free executor slots (RunningScheduler.hold): a live pass's promote claims runs for them
       * in the same statement (promoteStatement), and they start once the pass commits. Default: none.
       */
      claimSlots?: () => SlotHold | undefined;
      /**
       * When the replica started: its registration's time on the control database's clock (Heartbeat.register),
       * or undefined before it registered. Default, and while undefined: the first pass's start.
       */
      startedAt?: () => Date | undefined;
    },
  ) {}

  /** One pass. Returns null when another replica holds the lock (that replica's pass covers the work). */
  async runOnce(opts: { full?: boolean } = {}): Promise<PassResult | null> {
    const started = performance.now();
    this.startedAt ??= this.deps.startedAt?.() ?? this.deps.clock.now();
    const claim: PassClaim = { hold: undefined, claimed: [] };
    let result: PassResult | null;
    try {
      result = await this.pass(opts, claim, started);
    } finally {
      claim.hold?.release();
    }
    await this.analyzeOutgrown();
    return result;
  }

  /** After a pass, outside its transaction and lock: statistics for the tables it found outgrown (statsOutgrown). */
  private async analyzeOutgrown(): Promise<void> {
    const due = this.toAnalyze;
    this.toAnalyze = [];
    if (due.length === 0) return;
    // Asked once at this size, whatever comes of it (analyzed, refused for want of the right, given up on a
    // held lock, or an error that could come again every pass, like a statement timeout). Recorded here, not
    // in the pass: a pass that failed after finding the table outgrown leaves it for the next pass to ask.
    for (const d of due) this.analyzedAt[d.table] = d.size;
    await gatingAnalyze(
      this.deps.db,
      due.map((d) => ({ name: PLAN_TABLES[d.table]!, statBytes: d.statBytes })),
    );
  }

  /** The pass in its transaction; the runs a live pass's promote claimed (`claim`) start once it committed. */
  private async pass(opts: { full?: boolean }, claim: PassClaim, started: number): Promise<PassResult | null> {
    const { db, clock, replicaId } = this.deps;
    const lock = {
      key: PENDING_PASS_LOCK,
      ...(this.deps.lockIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.deps.lockIdleTimeoutMs } : {}),
      ...(this.deps.lock ? { lock: this.deps.lock } : {}),
    };
    // Read before the pass's `now`, from which the leases its promote takes run: the runs it claims commit their
    // first statement on that claim, as runs the running scheduler's own claims bring do (ExecContext.ownerCheckAhead).
    let claimedAt: number | undefined;
    // The lock statement begins the transaction (one round trip for both); null: another pass holds the lock.
    const result = await gatingPassTransaction(db, lock, async (trx, changes, ended) => {
      const plans = planFreshness(this.planBasis, changes.planBasis);
      if (plans === "replan") await gatingDiscardPlans(trx);
      if (plans !== "keep") this.planBasis = changes.planBasis;
      const sizes = changes.planBasis.sizes;
      this.toAnalyze = statsOutgrown(sizes, changes.statBytes, this.analyzedAt).map((i) => ({
        table: i,
        size: sizes[i]!,
        statBytes: changes.statBytes[i]!,
      }));
      claimedAt = performance.now();
      const now = clock.now();
      const overdue = !changes.lastFullPassAt || now.getTime() - changes.lastFullPassAt.getTime() >= this.deps.fullPassIntervalMs;
      const full = opts.full === true || this.firstPassFull(changes.lastFullPassAt) || changes.fullRequested || overdue;
      let pass: PassOutcome;
      let nextRunAt: Date | null;
      // Release controls on rollouts where a task finished or was skipped, before the pass gates: what they
      // change is marked for the next pass. A live pass reads them in its read (livePass).
      let controls = 0;
      if (full) {
        const controlled = changes.rollouts.map((r) => r.rolloutId);
        controls = (await gatingTripBreakers(trx, controlled, now, replicaId)).length + (await gatingAutoRun(trx, controlled, now));
        await gatingFullPassPlans(trx);
        await gatingDropCanceledCauses(trx, changes.runs);
        const readers = this.deps.fullPassReaders ?? FULL_PASS_READERS;
        // Release controls wrote runs or pauses in this transaction, which a reader session would not see.
        pass =
          readers === 0 || controls > 0
            ? await fullPass(this.writer(trx), now, this.fullPassOptions())
            : await gatingWithReaders(this.deps.readersDb ?? db, trx, this.deps.lockIdleTimeoutMs ?? PASS_LOCK_IDLE_MS, readers, (via) =>
                fullPass(this.writer(trx), now, this.fullPassOptions(trx), via),
              );
        nextRunAt = await gatingMarkPassDone(trx, now, true);
      } else {
        // A live pass records itself in its read (gatingLoadLive): one statement fewer.
        ({ nextRunAt, controls, ...pass } = await this.livePass(trx, changes, now, claim, ended));
      }
      // Promotions and failures notify in their own statements; new causes only here.
      await notifyChange(trx, pass.touched);
      return {
        kind: full ? ("full" as const) : ("live" as const),
        candidates: pass.candidates,
        promoted: pass.promoted,
        claimed: claim.claimed.length,
        causesWritten: pass.causesWritten,
        failed: pass.failed,
        nextRunAt,
        durationMs: 0,
        more: pass.revisits + controls > 0,
      };
    });
    if (result === null) return null;
    // Committed: the runs the promote claimed for this replica start now.
    claim.hold?.started(claim.claimed, claimedAt);
    this.fullDue = false;
    const pass: PassResult = { ...result, durationMs: performance.now() - started };
    this.deps.onPass?.(pass);
    return pass;
  }

  /**
   * A replica's first pass is full, as a safety net for what the replicas before it (an older build, say)
   * may have left undecided — unless a full pass began since this replica started: that one read every
   * PENDING run after this replica came up, and this one's would repeat it. Replicas started together (a
   * deploy, a scale-out) used to run one full pass each, one after another under the lock, with nothing
   * promoted meanwhile: ~1 s each at 20,000 pending runs, ~15 s each at 1M (docs/benchmarks.md §8). A replica
   * started when it registered (`startedAt`), not when its pending loop first ran: the loops start one after
   * another (SchedulerRuntime.startLoops), and a full pass that began in between read everything written
   * before this replica existed all the same. Times are the control database's (`clock`), so replicas'
   * process clocks do not enter.
   */
  private firstPassFull(lastFullPassAt: Date | null): boolean {
    if (!this.fullDue) return false;
    return !lastFullPassAt || !this.startedAt || lastFullPassAt.getTime() < this.startedAt.getTime();
  }

  /** What the pass's decisions write with (pass-decisions.ts). */
  private writer(trx: Db): PassWriter {
    const { replicaId, claimSlots } = this.deps;
    return { trx, replicaId, ...(claimSlots ? { claimSlots } : {}) };
  }

  /** With `trx`, a pass that reads on readers: it may commit as it goes (FullPassOptions.checkpoint). */
  private fullPassOptions(trx?: Db): FullPassOptions {
    const trustedLock = this.deps.lock === undefined;
    const idle = this.deps.lockIdleTimeoutMs ?? PASS_LOCK_IDLE_MS;
    return {
      batchSize: this.deps.fullPassBatchSize ?? FULL_PASS_BATCH,
      ...(this.deps.fullPassFirstBatchSize !== undefined ? { firstBatchSize: this.deps.fullPassFirstBatchSize } : {}),
      trustedLock,
      // Only under the production lock: the checkpoint holds that lock across its COMMIT (an injected PassLock
      // is a condition, not a lock it could hold).
      ...(trx && trustedLock ? { checkpoint: () => gatingPassCheckpoint(trx, PENDING_PASS_LOCK, idle) } : {}),
    };
  }

  /** The runs whose situation changed (see gatingLoadLive), in one batch. */
  private async livePass(
    trx: Db,
    changes: GatingChanges,
    now: Date,
    claim: PassClaim,
    ended: { committed: boolean },
  ): Promise<PassOutcome & { nextRunAt: Date | null; controls: number }> {
    let load = await gatingLoadLive(trx, changes, now, this.deps.busyWaiters, true);
    // The release controls due, read with the candidates; a pause or new runs they wrote change what the
    // candidates' read would say, so it is read again after them (rare: a breaker tripped or a stage auto-ran).
    const controls = await gatingApplyControls(trx, load.controls, now, this.deps.replicaId);
    if (controls > 0) load = await gatingLoadLive(trx, changes, now, this.deps.busyWaiters);
    const { candidates, busy, active, nextRunAt, limitWaiting, busyMore } = load;
    const w = this.writer(trx);
    // With a run AVAILABLE the promote claims nothing for this replica, and holding its free slots for it would
    // only keep them from its own claims (a finish's claim of the slots it frees) until the pass commits: in a
    // gated drain with 1 replica, the running scheduler's claims came up empty for the length of nearly every
    // pass (issue 19). So the promote gets the claim only when none was AVAILABLE.
    const freed = new Set(changes.dbs.map((d) => dbKey(d.instanceId, d.database)));
    const revisits = (decision: GatingDecision) =>
      liveRevisits({
        candidates,
        decision,
        freed,
        rollouts: changes.rollouts,
        busy,
        active,
        limitWaiting,
        busyMore,
        limitMargin: LIMIT_MARGIN,
      });
    // A promote that leaves the pass nothing else to write (no cause, nothing to mark for the next pass: a run
    // on an idle database, the pickup path) goes with the COMMIT, one round trip less (decideAndPromote's `last`).
    const last = {
      when: (d: GatingDecision) => {
        if (!recordsNothing(d, candidates)) return false;
        const r = revisits(d);
        return r.dbs.length === 0 && r.rollouts.length === 0;
      },
      ended,
    };
    const { decision } = await decideAndPromote(w, candidates, { now, busy, active }, load.noneAvailable ? claim : undefined, last);
    const revisit = revisits(decision);
    // Committed with the promote: a cancel that raced it can leave something to revisit, which the pass reports
    // (`more`: the loop passes again at once) instead of marking it.
    if (!ended.committed) {
      await recordDecision(w, decision, candidates, now);
      await gatingMarkForNextPass(trx, revisit.dbs.map(dbKeyParts), revisit.rollouts);
    }

    const rolloutOf = new Map(candidates.map((c) => [c.runId, c.rolloutId]));
    const touched = new Set<string>(decision.causes.map((c) => rolloutOf.get(c.runId)!));
    for (const c of decision.promote) touched.delete(c.rolloutId);
    return {
      candidates: candidates.length,
      promoted: decision.promote.length,
      causesWritten: decision.causes.length,
      failed: decision.fail.length,
      revisits: revisit.dbs.length + revisit.rollouts.length,
      touched,
      nextRunAt,
      controls,
    };
  }
}
