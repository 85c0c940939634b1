import type { Db } from "./db.js";
import type { GatingCandidate } from "../domain/gating.js";
import { dbKey, toCandidate, type CandidateRow, type GatingChanges } from "./gating-candidates.js";
import { gatingApplyStages } from "./gating-stages.js";
import type { AutoRunDue, BreakerToTrip } from "./gating-controls.js";
import { liveReadMemo, liveShapeKey, type LiveValues, type Occupancy } from "./gating-live-read.js";

export { liveReadMemo } from "./gating-live-read.js";

/**
 * DATABASE_BUSY runs a live pass reads per freed database (task_run_wait_db_busy_idx, in decide()'s order):
 * the first that no other gate holds takes it. More than one, so a few held by their rollout's limit or a
 * release control do not cost a pass each.
 */
export const BUSY_WAITERS = 4;

export interface LiveLoad {
  candidates: GatingCandidate[];
  /** dbKey → task id of the AVAILABLE/RUNNING sequential run or RUNNING dry run, for the candidates' databases. */
  busy: Map<string, string>;
  /** AVAILABLE + RUNNING runs of the candidates' rollouts (rollouts without any are absent). */
  active: Map<string, number>;
  /** The earliest future run-at or retry time among PENDING runs: when the scheduler must wake. */
  nextRunAt: Date | null;
  /** dbKeys of the candidates' databases where sequential runs that are not candidates wait for their rollout's limit. */
  limitWaiting: Set<string>;
  /** dbKeys of the candidates' databases where more runs wait DATABASE_BUSY than a freed database's read takes. */
  busyMore: Set<string>;
  /** The release controls due in the changed rollouts, when asked for (gatingApplyControls acts on them). */
  controls: { breakers: BreakerToTrip[]; autoRun: AutoRunDue[] };
  /**
   * Whether no run was AVAILABLE in the read's snapshot. Only then may the promote claim runs for the pass's
   * replica (promoteStatement claims only while none waits for an executor), so only then does the pass hold
   * that replica's free slots for it (PendingScheduler.livePass).
   */
  noneAvailable: boolean;
}

/**
 * The finished versions' marks (changes.tasks) split between the freed databases' branch of the live read and
 * their own: one per freed database rides with it (`vdone`, aligned with changes.dbs), read there with the same
 * version probes; the rest (`tasks`) keep their branch. A sequential versioned run that ends marks its database
 * and its task at once, so on a chain of versions every mark had both branches probe the same runs.
 */
export function splitLiveMarks(changes: Pick<GatingChanges, "dbs" | "tasks">): {
  vdone: (string | null)[];
  tasks: GatingChanges["tasks"];
} {
  const at = new Map(changes.dbs.map((d, i) => [dbKey(d.instanceId, d.database), i]));
  const vdone: (string | null)[] = changes.dbs.map(() => null);
  const tasks: GatingChanges["tasks"] = [];
  for (const t of changes.tasks) {
    const i = at.get(dbKey(t.instanceId, t.database));
    if (i !== undefined && vdone[i] === null) vdone[i] = t.versionKey;
    else tasks.push(t);
  }
  return { vdone, tasks };
}

/**
 * The live pass's candidates: only runs whose situation may have changed since they were last evaluated.
 * A run not selected here still has its recorded cause (see docs/scheduler.md for the argument). Also
 * records the pass (what gatingMarkPassDone does for a full pass): the run-at window's start is `now`,
 * and the next run-at is read in this statement's snapshot, which this pass's promotions cannot change
 * (they only take runs whose run-at is not in the future). Then the stage facts of candidates a release
 * control may hold (one more statement when there are any). With `controls`, also the release controls due
 * in the changed rollouts, in the same snapshot: a caller that acts on any must read again.
 */
export async function gatingLoadLive(
  trx: Db,
  changes: GatingChanges,
  now: Date,
  busyWaiters: number = BUSY_WAITERS,
  controls = false,
): Promise<LiveLoad> {
  if (!Number.isInteger(busyWaiters) || busyWaiters < 1) throw new Error(`busy waiters must be a positive integer, got ${busyWaiters}`);
  const { vdone, tasks } = splitLiveMarks(changes);
  const values: LiveValues = {
    now,
    since: changes.lastPassAt ?? new Date(0),
    runs: changes.runs,
    inst: changes.dbs.map((d) => d.instanceId),
    dbs: changes.dbs.map((d) => d.database),
    vfrom: changes.dbs.map((d) => d.versionFrom),
    vdone,
    tinst: tasks.map((t) => t.instanceId),
    tdbs: tasks.map((t) => t.database),
    tkeys: tasks.map((t) => t.versionKey),
    rids: changes.rollouts.map((r) => r.rolloutId),
    rall: changes.rollouts.map((r) => r.allLimited),
    crids: controls ? changes.rollouts.map((r) => r.rolloutId) : [],
  };
  const { rows } = await liveReadMemo.run(trx, liveShapeKey(busyWaiters, values), values);
  const out: LiveLoad = {
    candidates: [],
    busy: new Map(),
    active: new Map(),
    nextRunAt: rows[0]?.next_run_at ?? null,
    noneAvailable: rows[0]?.none_available ?? true,
    limitWaiting: new Set(),
    busyMore: new Set(),
    controls: { breakers: [], autoRun: [] },
  };
  let freeStages = new Set<string>();
  for (const row of rows) {
    if (row.occ_busy !== null) {
      const o = row as Occupancy;
      for (const [i, n, holder, limitWaiting, busyMore] of o.occ_busy) {
        const k = dbKey(i, n);
        if (holder !== null) out.busy.set(k, holder);
        if (limitWaiting) out.limitWaiting.add(k);
        if (busyMore) out.busyMore.add(k);
      }
      for (const [rollout, n] of o.occ_active) out.active.set(rollout, n);
      freeStages = new Set(o.occ_free);
      out.controls = {
        breakers: o.ctl_breakers.map(([rolloutId, failures]) => ({ rolloutId, failures })),
        autoRun: o.ctl_auto.map(([rolloutId, taskIds]) => ({ rolloutId, taskIds })),
      };
    }
    if (row.id !== null) out.candidates.push(toCandidate(row as CandidateRow));
  }
  const free = new Set(out.candidates.filter((c) => freeStages.has(c.stageId)).map((c) => c.runId));
  await gatingApplyStages(trx, out.candidates, free);
  return out;
}
