import type { Db } from "../store/db.js";
import {
  LIMIT_MARGIN,
  PENDING_PASS_LOCK,
  dbKey,
  gatingFailOrphans,
  gatingLoadAllPending,
  gatingLoadChanged,
  gatingLoadOccupancy,
  gatingMarkForNextPass,
  gatingMarkPassDone,
  gatingPromote,
  gatingTakeChanges,
  gatingWriteCauses,
  notifyChange,
  type PassLock,
} from "../store/gating.js";
import { gatingAutoRun, gatingTripBreakers } from "../store/gating-controls.js";
import { approvalWaitsRecord } from "../store/webhook-approvals.js";
import type { Clock } from "./clock.js";
import { decide, type GatingCandidate, type GatingDecision, type GatingState } from "../domain/gating.js";

export interface PassResult {
  kind: "full" | "live";
  candidates: number;
  promoted: number;
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
 * requested (deletions), on a replica's first pass and every `fullPassIntervalMs` as a safety net.
 */
export class PendingScheduler {
  private fullDue = true;

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      replicaId: string;
      fullPassIntervalMs: number;
      /** How long a frozen pass may keep the lock (see tryXactLock). */
      lockIdleTimeoutMs?: number;
      /** How passes of different replicas take turns; default advisoryLock (see PassLock). */
      lock?: PassLock;
      onPass?: (r: PassResult) => void;
    },
  ) {}

  /** One pass. Returns null when another replica holds the lock (that replica's pass covers the work). */
  async runOnce(opts: { full?: boolean } = {}): Promise<PassResult | null> {
    const { db, clock, replicaId } = this.deps;
    const started = performance.now();
    const result = await db.transaction().execute(async (trx) => {
      const changes = await gatingTakeChanges(trx, {
        key: PENDING_PASS_LOCK,
        ...(this.deps.lockIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.deps.lockIdleTimeoutMs } : {}),
        ...(this.deps.lock ? { lock: this.deps.lock } : {}),
      });
      if (changes === null) return null;
      const now = clock.now();
      // Release controls on rollouts where a task finished or was skipped: what they change is marked for the next pass.
      const controlled = changes.rollouts.map((r) => r.rolloutId);
      const controls = (await gatingTripBreakers(trx, controlled, now, replicaId)).length + (await gatingAutoRun(trx, controlled, now));
      const overdue = !changes.lastFullPassAt || now.getTime() - changes.lastFullPassAt.getTime() >= this.deps.fullPassIntervalMs;
      const full = opts.full === true || this.fullDue || changes.fullRequested || overdue;
      const candidates = full ? await gatingLoadAllPending(trx) : await gatingLoadChanged(trx, changes, now);

      const dbs = new Map<string, { instanceId: string; database: string }>();
      for (const d of changes.dbs) dbs.set(dbKey(d.instanceId, d.database), d);
      const candidateDbs = new Map<string, { instanceId: string; database: string }>();
      for (const c of candidates) {
        const [instanceId, ...rest] = c.dbKey.split("/");
        candidateDbs.set(c.dbKey, { instanceId: instanceId!, database: rest.join("/") });
      }
      const rollouts = [...new Set(candidates.map((c) => c.rolloutId))];
      const { busy, active } = await gatingLoadOccupancy(trx, full ? null : [...candidateDbs.values()], rollouts);
      const decision = await this.decideAndPromote(trx, candidates, { now, busy, active });
      await gatingWriteCauses(trx, decision.causes);
      await approvalWaitsRecord(trx, { causes: decision.causes, now });
      await gatingFailOrphans(trx, decision.fail, now, replicaId);

      // A promotion on a database this pass did not load leaves limit-held runs there with a stale
      // cause; a rollout whose limit-held runs were cut at its free slots + margin (some stale) and that
      // still has free slots may have more to promote.
      const revisitDbs = full
        ? []
        : [...new Set(decision.promote.filter((c) => c.sequential && !dbs.has(c.dbKey)).map((c) => c.dbKey))].map((k) =>
            candidateDbs.get(k)!,
          );
      const limitHeld = new Map<string, number>();
      const limitOf = new Map<string, number>();
      for (const c of candidates) {
        limitOf.set(c.rolloutId, c.limit);
        if (c.cause?.type === "PARALLEL_LIMIT") limitHeld.set(c.rolloutId, (limitHeld.get(c.rolloutId) ?? 0) + 1);
      }
      const promotedIn = new Map<string, number>();
      for (const c of decision.promote) promotedIn.set(c.rolloutId, (promotedIn.get(c.rolloutId) ?? 0) + 1);
      const revisitRollouts = full
        ? []
        : changes.rollouts
            .filter((r) => {
              const limit = limitOf.get(r.rolloutId) ?? 0;
              if (r.allLimited || limit === 0) return false;
              const activeNow = (active.get(r.rolloutId) ?? 0) + (promotedIn.get(r.rolloutId) ?? 0);
              const cap = Math.max(limit - (active.get(r.rolloutId) ?? 0), 0) + LIMIT_MARGIN;
              return activeNow < limit && (limitHeld.get(r.rolloutId) ?? 0) >= cap;
            })
            .map((r) => r.rolloutId);
      await gatingMarkForNextPass(trx, revisitDbs, revisitRollouts);
      const nextRunAt = await gatingMarkPassDone(trx, now, full);

      const rolloutOf = new Map(candidates.map((c) => [c.runId, c.rolloutId]));
      // Promotions and failures notify in their own statements; new causes only here.
      const touched = new Set<string>(decision.causes.map((c) => rolloutOf.get(c.runId)!));
      for (const c of decision.promote) touched.delete(c.rolloutId);
      await notifyChange(trx, touched);
      return {
        kind: full ? ("full" as const) : ("live" as const),
        candidates: candidates.length,
        promoted: decision.promote.length,
        causesWritten: decision.causes.length,
        failed: decision.fail.length,
        nextRunAt,
        durationMs: 0,
        more: revisitDbs.length + revisitRollouts.length + controls > 0,
      };
    });
    if (result === null) return null;
    if (result.kind === "full") this.fullDue = false;
    const pass: PassResult = { ...result, durationMs: performance.now() - started };
    this.deps.onPass?.(pass);
    return pass;
  }

  /**
   * decide(), then promote; a run only counts against a gate if its promotion was written. A promotion
   * whose compare-and-set failed (the run was canceled after the pass read it) is taken out and the rest
   * decided again, with the promotions written so far counted as active — so what the canceled run would
   * have blocked can go in this very pass, and no cause names it. Bounded: each round needs a cancel
   * that raced this pass.
   */
  private async decideAndPromote(trx: Db, candidates: GatingCandidate[], state: GatingState): Promise<GatingDecision> {
    const busy = new Map(state.busy);
    const active = new Map(state.active);
    const promoted: GatingCandidate[] = [];
    let left = candidates;
    for (let round = 0; ; round++) {
      const decision = decide(left, { now: state.now, busy, active });
      const written = await gatingPromote(
        trx,
        decision.promote.map((c) => c.runId),
        state.now,
        this.deps.replicaId,
      );
      for (const c of decision.promote) {
        if (!written.has(c.runId)) continue;
        promoted.push(c);
        if (c.sequential && !busy.has(c.dbKey)) busy.set(c.dbKey, c.taskId);
        active.set(c.rolloutId, (active.get(c.rolloutId) ?? 0) + 1);
      }
      if (written.size === decision.promote.length || round >= 3) return { ...decision, promote: promoted };
      const gone = new Set(decision.promote.filter((c) => !written.has(c.runId)).map((c) => c.runId));
      left = left.filter((c) => !gone.has(c.runId) && !written.has(c.runId));
    }
  }
}
