/** Shapes of the REST API (issue 3). Ids are strings (bigint ids travel as strings). */
import type { Role, TaskRunStatus, TaskStatus, TaskType, WaitingCause } from "@runway/shared";

export type StatusCounts = Partial<Record<TaskStatus, number>>;

export interface Me {
  username: string;
  role: Role;
  csrfToken?: string;
}

export interface Project {
  id: string;
  title: string;
  parallelTasksPerRollout: number;
}

export interface Stage {
  id: string;
  environment: string;
  statusCounts: StatusCounts;
}

export interface RolloutSummary {
  id: string;
  projectId: string;
  title: string;
  createdAt: string;
  createdBy: string;
  statusCounts: StatusCounts;
}

export interface Rollout extends RolloutSummary {
  stages: Stage[];
}

/** What a run's result may carry. The server stores it as JSON; errors come from PostgreSQL. */
export interface RunResult {
  error?: RunError;
  message?: string;
  position?: number | string;
  [key: string]: unknown;
}

export interface RunError {
  message: string;
  code?: string;
  position?: number | string;
  detail?: string;
  hint?: string;
}

export interface TaskRun {
  id: string;
  taskId: string;
  attempt: number;
  status: TaskRunStatus;
  runAt: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  createdBy: string | null;
  replicaId: string | null;
  waitingCause?: WaitingCause | null;
  result?: RunResult | null;
}

export interface Task {
  id: string;
  rolloutId: string;
  stageId: string;
  type: TaskType;
  instanceId: string;
  database: string;
  schemaVersion: string | null;
  statement: string;
  status: TaskStatus;
  skipReason?: string | null;
  latestRun?: TaskRun | null;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string | null;
}

export interface LogEntry {
  at: string;
  type: string;
  replicaId: string | null;
  message: string;
  data?: unknown;
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
