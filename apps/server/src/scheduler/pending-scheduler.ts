import type { Db } from "../store/db.js";
import {
  LIMIT_MARGIN,
  PENDING_PASS_LOCK,
  dbKey,
  FULL_PASS_BATCH,
  gatingFailOrphans,
  gatingFullPassPlans,
  gatingHeldStages,
  gatingRecordHeldStages,
  gatingLoadLive,
  gatingLoadOccupancy,
  gatingMarkForNextPass,
  gatingMarkPassDone,
  gatingOpenPending,
  gatingPromote,
  gatingWithReaders,
  FULL_PASS_READERS,
  PASS_LOCK_IDLE_MS,
  gatingTakeChanges,
  gatingDropCanceledCauses,
  gatingWriteCauses,
  gatingWriteStageCauses,
  notifyChange,
  type GatingChanges,
  type PassLock,
  type PendingReader,
} from "../store/gating.js";
import { gatingApplyControls, gatingAutoRun, gatingTripBreakers } from "../store/gating-controls.js";
import { approvalWaitsRecord } from "../store/webhook-approvals.js";
import type { Clock } from "./clock.js";
import type { SlotHold } from "./running-scheduler.js";
import type { ClaimedRun } from "../store/transitions/claim.js";
import { causeRecords } from "../domain/cause-records.js";
import { dbKeyParts, decideBatch, withPromoted, type GatingCandidate, type GatingDecision, type GatingState } from "../domain/gating.js";
import { liveRevisits } from "../domain/live-revisits.js";

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
 * makes passes of different replicas take turns, so two replicas can never together break a gate.
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
    try {
      return await this.pass(opts, claim, started);
    } finally {
      claim.hold?.release();
    }
  }

  /** The pass in its transaction; the runs a live pass's promote claimed (`claim`) start once it committed. */
  private async pass(opts: { full?: boolean }, claim: PassClaim, started: number): Promise<PassResult | null> {
    const { db, clock, replicaId } = this.deps;
    const result = await db.transaction().execute(async (trx) => {
      const changes = await gatingTakeChanges(trx, {
        key: PENDING_PASS_LOCK,
        ...(this.deps.lockIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.deps.lockIdleTimeoutMs } : {}),
        ...(this.deps.lock ? { lock: this.deps.lock } : {}),
      });
      if (changes === null) return null;
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
            ? await this.fullPass(trx, now)
            : await gatingWithReaders(this.deps.readersDb ?? db, trx, this.deps.lockIdleTimeoutMs ?? PASS_LOCK_IDLE_MS, readers, (via) =>
                this.fullPass(trx, now, via),
              );
        nextRunAt = await gatingMarkPassDone(trx, now, true);
      } else {
        // A live pass records itself in its read (gatingLoadLive): one statement fewer.
        ({ nextRunAt, controls, ...pass } = await this.livePass(trx, changes, now, claim));
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
    claim.hold?.started(claim.claimed);
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

  /**
   * Every PENDING run, read in batches in decide()'s order; each batch is decided against the state the
   * batches before it left (decideBatch), all in this transaction under the pass lock. Memory follows the
   * batch size, and no gap between statements follows the backlog (the lock's idle bound ends a session idle
   * for PASS_LOCK_IDLE_MS). A batch's promotions are written before the next batch is decided (a failed
   * one changes what it may take); its causes are written while Node decides the next batch, since no
   * decision reads them: PostgreSQL and Node work at the same time, the statements still one after another
   * on the pass's session (at 100k runs the pass was PostgreSQL's time plus Node's; now it is mostly the former).
   * With `via`, the batches are read on reader sessions in the pass's snapshot, beside those writes.
   */
  private async fullPass(trx: Db, now: Date, via?: PendingReader): Promise<PassOutcome> {
    // The release controls first: the runs of a stage one holds are recorded on the stage and not read.
    const held = await gatingHeldStages(trx, now);
    const heldChanged = await gatingRecordHeldStages(trx, held);
    await approvalWaitsRecord(trx, {
      stages: held.stages.flatMap((s) => (s.cause.type === "APPROVAL_REQUIRED" ? [{ stageId: s.stageId, role: s.cause.role }] : [])),
      now,
    });
    const batches = await gatingOpenPending(trx, this.deps.fullPassBatchSize ?? FULL_PASS_BATCH, via, held);
    // Every database and rollout, read before the first batch: once a batch is handed out, the next one's
    // FETCH is on the session, and a statement sent after it would hold the first decisions back.
    let state: GatingState = { now, ...(await gatingLoadOccupancy(trx, null, null)) };
    const out: PassOutcome = { candidates: 0, promoted: 0, causesWritten: 0, failed: 0, revisits: 0, touched: new Set(heldChanged) };
    const promotedIn = new Set<string>();
    // Under the real pass lock no other pass writes causes, so a run read without one still has none when
    // its batch is written. An injected PassLock (tests, the chaos harness's broken lock) is not trusted so.
    const fresh = this.deps.lock === undefined;
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
      const r: Decided = await afterWrites(this.decideAndPromote(trx, batch, state));
      state = r.state;
      // One write in flight at most: the previous batch's ran while this one was decided, and decisions
      // must not pile up in memory behind a slower server.
      await writing;
      writing = this.writeOutcome(
        trx,
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

  /**
   * Records a decision over `candidates`: run causes on the runs, release controls' on their stages
   * (causeRecords). `fresh`: the runs read without a cause under the real pass lock, whose causes are plain
   * inserts (gatingWriteCauses).
   */
  private async writeOutcome(
    trx: Db,
    decision: GatingDecision,
    candidates: readonly GatingCandidate[],
    now: Date,
    fresh: ReadonlySet<string> = new Set(),
  ): Promise<void> {
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
    await gatingFailOrphans(trx, decision.fail, now, this.deps.replicaId);
  }

  /** The runs whose situation changed (see gatingLoadLive), in one batch. */
  private async livePass(
    trx: Db,
    changes: GatingChanges,
    now: Date,
    claim: PassClaim,
  ): Promise<PassOutcome & { nextRunAt: Date | null; controls: number }> {
    let load = await gatingLoadLive(trx, changes, now, this.deps.busyWaiters, true);
    // The release controls due, read with the candidates; a pause or new runs they wrote change what the
    // candidates' read would say, so it is read again after them (rare: a breaker tripped or a stage auto-ran).
    const controls = await gatingApplyControls(trx, load.controls, now, this.deps.replicaId);
    if (controls > 0) load = await gatingLoadLive(trx, changes, now, this.deps.busyWaiters);
    const { candidates, busy, active, nextRunAt, limitWaiting, busyMore } = load;
    // With a run AVAILABLE the promote claims nothing for this replica, and holding its free slots for it would
    // only keep them from its own claims (a finish's claim of the slots it frees) until the pass commits: in a
    // gated drain with 1 replica, the running scheduler's claims came up empty for the length of nearly every
    // pass, ~10% of the rate (issue 19).
    if (!load.noneAvailable) claim.hold = null;
    const { decision } = await this.decideAndPromote(trx, candidates, { now, busy, active }, claim);
    await this.writeOutcome(trx, decision, candidates, now);
    const revisit = liveRevisits({
      candidates,
      decision,
      freed: new Set(changes.dbs.map((d) => dbKey(d.instanceId, d.database))),
      rollouts: changes.rollouts,
      busy,
      active,
      limitWaiting,
      busyMore,
      limitMargin: LIMIT_MARGIN,
    });
    await gatingMarkForNextPass(trx, revisit.dbs.map(dbKeyParts), revisit.rollouts);

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

  /**
   * decide(), then promote; a run only counts against a gate if its promotion was written. A promotion
   * whose compare-and-set failed (the run was canceled after the pass read it) is taken out and the rest
   * decided again, with the promotions written so far counted as active — so what the canceled run would
   * have blocked can go in this very pass, and no cause names it. Bounded: each round needs a cancel
   * that raced this pass.
   */
  private async decideAndPromote(trx: Db, candidates: GatingCandidate[], state: GatingState, claim?: PassClaim): Promise<Decided> {
    const promoted: GatingCandidate[] = [];
    let left = candidates;
    let s = state;
    for (let round = 0; ; round++) {
      const { decision, state: next } = decideBatch(left, s);
      // A live pass that promotes takes this replica's free slots (once) for its promote to claim into.
      if (claim && decision.promote.length > 0 && claim.hold === undefined) claim.hold = this.deps.claimSlots?.() ?? null;
      const slots = claim?.hold ? claim.hold.claim.limit - claim.claimed.length : 0;
      const { promoted: written, claimed } = await gatingPromote(
        trx,
        decision.promote.map((c) => c.runId),
        s.now,
        this.deps.replicaId,
        claim?.hold && slots > 0 ? { ...claim.hold.claim, limit: slots } : undefined,
      );
      claim?.claimed.push(...claimed);
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
}

/**
 * A live pass's claim for its replica: the slots held (undefined: not asked yet; null: none free, or not asked
 * because a run was AVAILABLE), and the runs its promotes claimed.
 */
interface PassClaim {
  hold: SlotHold | null | undefined;
  claimed: ClaimedRun[];
}

/** decide()'s outcome with only written promotions, and the state the next batch is decided against. */
type Decided = { decision: GatingDecision; state: GatingState };

/** What a pass did, before the statements every pass ends with. */
interface PassOutcome {
  candidates: number;
  promoted: number;
  causesWritten: number;
  failed: number;
  /** Databases and rollouts marked for the next pass. */
  revisits: number;
  /** Rollouts with new causes and no promotion (those notify the dashboard here). */
  touched: Set<string>;
}
