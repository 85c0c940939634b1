/**
 * Status vocabularies shared by the server and the dashboard.
 * Each is a `const` object with a derived union type, so values are usable at run time and in types.
 */

/**
 * Status of one task run. Who moves a run into each state:
 * - PENDING: created by the API (run / retry). Left only by the pending scheduler (→ AVAILABLE or FAILED)
 *   or by a cancel (→ CANCELED).
 * - AVAILABLE: set by the pending scheduler when no gate holds the run, or by the sweeper when a
 *   re-runnable run's owner stopped heartbeating. Left by the running scheduler's claim (→ RUNNING) or a
 *   cancel (→ CANCELED).
 * - RUNNING: set by the running scheduler's claim. Left by the owning executor (→ DONE, FAILED,
 *   CANCELED) or by the sweeper (→ AVAILABLE or FAILED) when its lease expired.
 * - DONE, FAILED, CANCELED: terminal.
 */
export const TaskRunStatus = {
  PENDING: "PENDING",
  AVAILABLE: "AVAILABLE",
  RUNNING: "RUNNING",
  DONE: "DONE",
  FAILED: "FAILED",
  CANCELED: "CANCELED",
} as const;
export type TaskRunStatus = (typeof TaskRunStatus)[keyof typeof TaskRunStatus];

export const ACTIVE_RUN_STATUSES = [
  TaskRunStatus.PENDING,
  TaskRunStatus.AVAILABLE,
  TaskRunStatus.RUNNING,
] as const satisfies readonly TaskRunStatus[];

export const TERMINAL_RUN_STATUSES = [
  TaskRunStatus.DONE,
  TaskRunStatus.FAILED,
  TaskRunStatus.CANCELED,
] as const satisfies readonly TaskRunStatus[];

/** Status of a task: NOT_STARTED (no run), SKIPPED, otherwise its latest run's status. */
export const TaskStatus = {
  NOT_STARTED: "NOT_STARTED",
  PENDING: "PENDING",
  AVAILABLE: "AVAILABLE",
  RUNNING: "RUNNING",
  DONE: "DONE",
  FAILED: "FAILED",
  CANCELED: "CANCELED",
  SKIPPED: "SKIPPED",
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** Display order of task statuses (filter chips, summaries). */
export const TASK_STATUS_ORDER: readonly TaskStatus[] = [
  TaskStatus.NOT_STARTED,
  TaskStatus.PENDING,
  TaskStatus.AVAILABLE,
  TaskStatus.RUNNING,
  TaskStatus.DONE,
  TaskStatus.FAILED,
  TaskStatus.CANCELED,
  TaskStatus.SKIPPED,
];

export const TaskType = {
  DATABASE_CREATE: "DATABASE_CREATE",
  DATABASE_SCHEMA_UPDATE: "DATABASE_SCHEMA_UPDATE",
  DATABASE_SDL: "DATABASE_SDL",
  DATABASE_DATA_UPDATE: "DATABASE_DATA_UPDATE",
} as const;
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

export const TASK_TYPES: readonly TaskType[] = Object.values(TaskType);

/** Sequential task types run one at a time per instance + database. */
export function isSequentialTaskType(type: TaskType): boolean {
  return type !== TaskType.DATABASE_DATA_UPDATE;
}

export const WaitingCauseType = {
  RUN_AT: "RUN_AT",
  VERSION_ORDER: "VERSION_ORDER",
  DATABASE_BUSY: "DATABASE_BUSY",
  PARALLEL_LIMIT: "PARALLEL_LIMIT",
  TARGET_UNREACHABLE: "TARGET_UNREACHABLE",
  RETRY_BACKOFF: "RETRY_BACKOFF",
  BLOCKED_BY_FAILED: "BLOCKED_BY_FAILED",
  STAGE_GATE: "STAGE_GATE",
  APPROVAL_REQUIRED: "APPROVAL_REQUIRED",
  PAUSED: "PAUSED",
} as const;
export type WaitingCauseType = (typeof WaitingCauseType)[keyof typeof WaitingCauseType];

/** Why a PENDING run waits, as persisted on the run. `since` is when this cause started to hold. */
export type WaitingCause =
  | { type: "RUN_AT"; runAt: string; since: string }
  | { type: "VERSION_ORDER"; taskId: string; schemaVersion: string; since: string }
  | { type: "DATABASE_BUSY"; taskId: string; since: string }
  | { type: "PARALLEL_LIMIT"; limit: number; since: string; active?: number }
  /** The target refused or dropped the connection before COMMIT: retried at `retryAt` (backoff). */
  | { type: "TARGET_UNREACHABLE"; attempts: number; lastError: string; retryAt: string; since: string }
  /** A lock timeout, deadlock or serialization failure: automatic retry `attempt` of `max` starts at `until`. */
  | { type: "RETRY_BACKOFF"; until: string; attempt: number; max: number; since: string }
  /** The nearest smaller version's task is FAILED or CANCELED: nothing moves until it is retried or skipped. */
  | { type: "BLOCKED_BY_FAILED"; taskId: string; schemaVersion: string; status: "FAILED" | "CANCELED"; since: string }
  /** An earlier stage of the rollout (the nearest unfinished one) has tasks that are neither DONE nor SKIPPED. */
  | { type: "STAGE_GATE"; stageId: string; environment: string; done: number; total: number; since: string }
  /** The stage's environment policy asks for an approval by `role` (releaser or admin) that was not given. */
  | { type: "APPROVAL_REQUIRED"; stageId: string; role: "releaser" | "admin"; since: string }
  /** The rollout is paused (by a person, or by the circuit breaker: `by` is "circuit-breaker"). */
  | { type: "PAUSED"; by: string; at: string; reason: string; since: string };

export const Role = {
  VIEWER: "viewer",
  RELEASER: "releaser",
  ADMIN: "admin",
} as const;
export type Role = (typeof Role)[keyof typeof Role];
