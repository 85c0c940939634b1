import { WaitingCauseType, type WaitingCause } from "@runway/shared";

/**
 * The pending scheduler's decision, as a pure function: given the PENDING runs to evaluate (with what
 * the store looked up for them) and the live state of their databases and rollouts, say which runs
 * become AVAILABLE, which recorded causes change, and which runs fail. No I/O, no clock of its own.
 */

export const dbKey = (instanceId: string, database: string): string => `${instanceId}/${database}`;
/** dbKey's parts again: the instance id has no "/", the database name may. */
export function dbKeyParts(key: string): { instanceId: string; database: string } {
  const cut = key.indexOf("/");
  return { instanceId: key.slice(0, cut), database: key.slice(cut + 1) };
}

export interface GatingCandidate {
  runId: string;
  taskId: string;
  rolloutId: string;
  /** `${instanceId}/${database}` */
  dbKey: string;
  sequential: boolean;
  runAt: Date | null;
  createdAt: Date;
  /** The project's parallel-tasks-per-rollout limit; 0 means no limit. */
  limit: number;
  /** Set when the run can never run (its project or instance was deleted). */
  orphanReason: string | null;
  /** Byte-ordered schema version key (see versionSortKey), null when unversioned. */
  versionKey: string | null;
  /**
   * Nearest smaller schema version on the same database whose task is neither DONE nor SKIPPED, with that
   * task's status (FAILED or CANCELED: it will not finish by itself, see BLOCKED_BY_FAILED).
   */
  versionBlocker: { taskId: string; schemaVersion: string; status: string } | null;
  /** A retry of a task that holds later versions back: decided before other waiting runs of its rollout. */
  ahead: boolean;
  /** The cause recorded on the run now (null: never evaluated). */
  cause: WaitingCause | null;
  /** Set when the run's target could not be reached: it may not start again before `retryAt`. */
  targetRetry: { retryAt: Date; since: Date; attempts: number; lastError: string } | null;
  /** Set after a lock or serialization failure: automatic retry `attempt` of `max` may not start before `until`. */
  autoRetry?: { until: Date; attempt: number; max: number } | null;
  /** The run's stage (its task's). */
  stageId: string;
  /** Set by applyStageGates: the rollout is paused. */
  paused?: { by: string; at: Date; reason: string } | null;
  /** Set by applyStageGates: the nearest earlier stage with unfinished tasks (stage order IN_ORDER). */
  stageBlocker?: { stageId: string; environment: string; done: number; total: number } | null;
  /** Set by applyStageGates: the stage needs an approval by this role that it does not have. */
  approvalNeeded?: "releaser" | "admin" | null;
}

/** What the release controls know about one stage of a candidate's rollout (see applyStageGates). */
export interface StageFacts {
  stageId: string;
  rolloutId: string;
  position: number;
  environment: string;
  inOrder: boolean;
  /** Whether a task is neither DONE nor SKIPPED (the gate); tasks DONE or SKIPPED, and all tasks (the cause's counts). */
  open: boolean;
  done: number;
  total: number;
  /** The environment policy's approval role, and whether the latest decision on the stage approved it. */
  approval: "none" | "releaser" | "admin";
  approved: boolean;
  paused: { by: string; at: Date; reason: string } | null;
}

export interface GatingState {
  now: Date;
  /** Task id of the AVAILABLE/RUNNING sequential run on a database, by dbKey. */
  busy: ReadonlyMap<string, string>;
  /** AVAILABLE + RUNNING runs per rollout. */
  active: ReadonlyMap<string, number>;
}

export interface GatingDecision {
  promote: GatingCandidate[];
  /** Runs whose cause changed, with the cause to record. */
  causes: { runId: string; cause: WaitingCause }[];
  fail: { runId: string; reason: string }[];
}

export type CauseBody = WaitingCause extends infer C ? (C extends WaitingCause ? Omit<C, "since"> : never) : never;

/** The release control that holds the runs of stage `stageId` (the first of pause, stage order, approval), or null. */
export function releaseControlCause(stageId: string, c: Partial<StageControls>): CauseBody | null {
  if (c.paused) {
    const { by, at, reason } = c.paused;
    return { type: WaitingCauseType.PAUSED, by, at: at.toISOString(), reason };
  }
  if (c.stageBlocker) return { type: WaitingCauseType.STAGE_GATE, ...c.stageBlocker };
  if (c.approvalNeeded) return { type: WaitingCauseType.APPROVAL_REQUIRED, stageId, role: c.approvalNeeded };
  return null;
}

/** First gate that holds the run, or null when none does. `promotedDbs`/`promotedPerRollout` are this pass's promotions. */
export function firstGate(
  c: GatingCandidate,
  state: GatingState,
  busyThisPass: ReadonlyMap<string, string>,
  activeThisPass: ReadonlyMap<string, number>,
): CauseBody | null {
  // The release controls come first: while one holds, nothing below matters, and each is re-evaluated by
  // the change that lifts it (resume, the blocking stage completing, an approval) whatever came below.
  const control = releaseControlCause(c.stageId, c);
  if (control) return control;
  if (c.targetRetry && c.targetRetry.retryAt.getTime() > state.now.getTime()) {
    const { attempts, lastError, retryAt } = c.targetRetry;
    return { type: WaitingCauseType.TARGET_UNREACHABLE, attempts, lastError, retryAt: retryAt.toISOString() };
  }
  if (c.autoRetry && c.autoRetry.until.getTime() > state.now.getTime()) {
    const { until, attempt, max } = c.autoRetry;
    return { type: WaitingCauseType.RETRY_BACKOFF, until: until.toISOString(), attempt, max };
  }
  if (c.runAt && c.runAt.getTime() > state.now.getTime()) {
    return { type: WaitingCauseType.RUN_AT, runAt: c.runAt.toISOString() };
  }
  if (c.versionBlocker) {
    const { taskId, schemaVersion, status } = c.versionBlocker;
    // A FAILED or CANCELED blocker never finishes by itself: say so rather than "waiting for".
    if (status === "FAILED" || status === "CANCELED") return { type: WaitingCauseType.BLOCKED_BY_FAILED, taskId, schemaVersion, status };
    return { type: WaitingCauseType.VERSION_ORDER, taskId, schemaVersion };
  }
  if (c.sequential) {
    const holder = busyThisPass.get(c.dbKey) ?? state.busy.get(c.dbKey);
    if (holder !== undefined) return { type: WaitingCauseType.DATABASE_BUSY, taskId: holder };
  }
  if (c.limit > 0) {
    const active = (state.active.get(c.rolloutId) ?? 0) + (activeThisPass.get(c.rolloutId) ?? 0);
    if (active >= c.limit) return { type: WaitingCauseType.PARALLEL_LIMIT, limit: c.limit };
  }
  return null;
}

/** Causes are equal when everything but `since` and what the API serves live (PARALLEL_LIMIT's `active`, DATABASE_BUSY's holder, STAGE_GATE's counts) matches. */
export function sameCause(a: WaitingCause | null, b: CauseBody): boolean {
  if (!a || a.type !== b.type) return false;
  switch (b.type) {
    case "RUN_AT":
      return a.type === "RUN_AT" && new Date(a.runAt).getTime() === new Date(b.runAt).getTime();
    case "VERSION_ORDER":
      return a.type === "VERSION_ORDER" && a.taskId === b.taskId && a.schemaVersion === b.schemaVersion;
    // The holder changes with every run that takes the database: the API serves the current one live, and
    // a rewrite per holder made a pass re-read every run queued on the database (issue 19: ~115 at 1M).
    // The recorded taskId is the holder when the wait began; `since` is when it began.
    case "DATABASE_BUSY":
      return a.type === "DATABASE_BUSY";
    case "PARALLEL_LIMIT":
      return a.type === "PARALLEL_LIMIT" && a.limit === b.limit;
    case "BLOCKED_BY_FAILED":
      return a.type === "BLOCKED_BY_FAILED" && a.taskId === b.taskId && a.schemaVersion === b.schemaVersion && a.status === b.status;
    case "TARGET_UNREACHABLE":
      return (
        a.type === "TARGET_UNREACHABLE" &&
        a.attempts === b.attempts &&
        a.lastError === b.lastError &&
        new Date(a.retryAt).getTime() === new Date(b.retryAt).getTime()
      );
    case "RETRY_BACKOFF":
      return (
        a.type === "RETRY_BACKOFF" &&
        a.attempt === b.attempt &&
        a.max === b.max &&
        new Date(a.until).getTime() === new Date(b.until).getTime()
      );
    // done/total change with every finished task of the stage: the API serves them live, and a cause
    // rewrite per finished task would make a pass follow the stage's size.
    case "STAGE_GATE":
      return a.type === "STAGE_GATE" && a.stageId === b.stageId;
    case "APPROVAL_REQUIRED":
      return a.type === "APPROVAL_REQUIRED" && a.stageId === b.stageId && a.role === b.role;
    case "PAUSED":
      return a.type === "PAUSED" && a.by === b.by && a.reason === b.reason && new Date(a.at).getTime() === new Date(b.at).getTime();
  }
}

/**
 * Retried blockers first (they free everything behind them), then first come, first served. `createdAt`
 * is the row's created_at truncated to the millisecond (node-postgres drops the microseconds), so the SQL
 * order `ahead DESC, date_trunc('milliseconds', created_at), id` is this order exactly (the full pass reads in it).
 */
function fifo(a: GatingCandidate, b: GatingCandidate): number {
  if (a.ahead !== b.ahead) return a.ahead ? -1 : 1;
  const d = a.createdAt.getTime() - b.createdAt.getTime();
  if (d !== 0) return d;
  return BigInt(a.runId) < BigInt(b.runId) ? -1 : BigInt(a.runId) > BigInt(b.runId) ? 1 : 0;
}

export function decide(candidates: readonly GatingCandidate[], state: GatingState): GatingDecision {
  const ordered = [...candidates].sort(fifo);
  const busyThisPass = new Map<string, string>();
  const activeThisPass = new Map<string, number>();
  const out: GatingDecision = { promote: [], causes: [], fail: [] };
  const since = state.now.toISOString();
  for (const c of ordered) {
    if (c.orphanReason) {
      out.fail.push({ runId: c.runId, reason: c.orphanReason });
      continue;
    }
    const gate = firstGate(c, state, busyThisPass, activeThisPass);
    if (gate === null) {
      out.promote.push(c);
      if (c.sequential) busyThisPass.set(c.dbKey, c.taskId);
      activeThisPass.set(c.rolloutId, (activeThisPass.get(c.rolloutId) ?? 0) + 1);
    } else if (!sameCause(c.cause, gate)) {
      // An unreachable target's cause holds since the first failed attempt, not since this pass.
      const from = gate.type === WaitingCauseType.TARGET_UNREACHABLE ? c.targetRetry!.since.toISOString() : since;
      out.causes.push({ runId: c.runId, cause: { ...gate, since: from } as WaitingCause });
    }
  }
  return out;
}

/**
 * `state` with `promoted` counted: their databases taken (sequential runs) and their rollouts' slots used.
 * Pure; what a later batch of the same pass, or a later round after a failed promotion, decides against.
 */
export function withPromoted(state: GatingState, promoted: readonly GatingCandidate[]): GatingState {
  const busy = new Map(state.busy);
  const active = new Map(state.active);
  for (const c of promoted) {
    if (c.sequential && !busy.has(c.dbKey)) busy.set(c.dbKey, c.taskId);
    active.set(c.rolloutId, (active.get(c.rolloutId) ?? 0) + 1);
  }
  return { now: state.now, busy, active };
}

/**
 * decide() over one batch of a pass that reads its runs in decide()'s order (see fifo), carrying the
 * pass's state to the next batch. decide() keeps only two things across runs — databases taken and slots
 * used per rollout — and firstGate adds them to `state`'s, so for batches a before b in that order,
 * decideBatch(a, s) then decideBatch(b, s') decides exactly what decide(a ++ b, s) does.
 */
export function decideBatch(batch: readonly GatingCandidate[], state: GatingState): { decision: GatingDecision; state: GatingState } {
  const decision = decide(batch, state);
  return { decision, state: withPromoted(state, decision.promote) };
}

/** A stage's release controls (see GatingCandidate): what applyStageGates sets on each of its runs. */
export type StageControls = Required<Pick<GatingCandidate, "paused" | "stageBlocker" | "approvalNeeded">>;

/**
 * Each stage's release controls from its rollout's stages: paused, the nearest earlier stage with unfinished
 * tasks (only when the rollout keeps its stages in order) and a missing approval.
 */
export function stageControls(stages: readonly StageFacts[]): Map<string, StageControls> {
  const byRollout = new Map<string, StageFacts[]>();
  for (const s of stages) {
    let list = byRollout.get(s.rolloutId);
    if (!list) byRollout.set(s.rolloutId, (list = []));
    list.push(s);
  }
  const out = new Map<string, StageControls>();
  for (const list of byRollout.values()) {
    list.sort((a, b) => a.position - b.position);
    list.forEach((own, i) => {
      let stageBlocker: StageControls["stageBlocker"] = null;
      if (own.inOrder) {
        const open = list.slice(0, i).findLast((s) => s.open);
        if (open) stageBlocker = { stageId: open.stageId, environment: open.environment, done: open.done, total: open.total };
      }
      const approvalNeeded = own.approval !== "none" && !own.approved ? own.approval : null;
      out.set(own.stageId, { paused: own.paused, stageBlocker, approvalNeeded });
    });
  }
  return out;
}

/** Sets each candidate's release-control facts from its rollout's stages (stageControls). */
export function applyStageGates(candidates: GatingCandidate[], stages: readonly StageFacts[]): void {
  const controls = stageControls(stages);
  for (const c of candidates) {
    const own = controls.get(c.stageId);
    c.paused = own?.paused ?? null;
    c.stageBlocker = own?.stageBlocker ?? null;
    c.approvalNeeded = own?.approvalNeeded ?? null;
  }
}
