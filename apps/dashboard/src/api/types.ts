/**
 * Shapes of the REST API (issue 3). The resources (tasks, runs, rollouts, log entries) are defined once in
 * @runway/shared, which the server's store returns; the rest are the dashboard's view of small replies.
 */
import type { Role } from "@runway/shared";

export type {
  LogEntry,
  Rollout,
  RolloutSummary,
  RunError,
  RunResult,
  ServedWaitingCause,
  Stage,
  StatusCounts,
  Task,
  TaskRun,
} from "@runway/shared";

/** A per-project role: replaces the global role inside that project (`none` hides it). */
export type ProjectRole = "none" | "viewer" | "releaser";

export interface Me {
  username: string;
  role: Role;
  csrfToken?: string;
  /** The user's per-project roles; other projects use `role`. */
  projectRoles?: Record<string, ProjectRole>;
}

export interface Project {
  id: string;
  title: string;
  parallelTasksPerRollout: number;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string | null;
}

export type RunOutcome = "CREATED" | "ALREADY_ACTIVE" | "ALREADY_DONE" | "TASK_SKIPPED";
export type CancelOutcome = "CANCELED" | "CANCEL_REQUESTED";

export interface RunResultRow {
  taskId: string;
  outcome: RunOutcome;
  taskRunId?: string;
}

export interface CancelResultRow {
  taskRunId: string;
  outcome: CancelOutcome;
}
