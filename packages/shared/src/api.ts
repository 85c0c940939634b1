/**
 * The REST API's resources as served (`/api/v1`, issue 3): what the server's store returns and the dashboard
 * reads. One definition for both, so they cannot drift. The server's TypeBox schemas
 * (apps/server/src/schemas) validate and document the same shapes. Ids are strings (bigint ids travel as
 * decimal strings); times are ISO 8601 strings.
 */
import type { TaskRunStatus, TaskStatus, TaskType, WaitingCause } from "./status.js";

/** A count for every task status (zeros included, so clients need no defaults). */
export type StatusCounts = Record<TaskStatus, number>;

/** A waiting cause as served: PARALLEL_LIMIT also carries the rollout's live AVAILABLE+RUNNING count. */
export type ServedWaitingCause =
  | Exclude<WaitingCause, { type: "PARALLEL_LIMIT" }>
  | (Omit<Extract<WaitingCause, { type: "PARALLEL_LIMIT" }>, "active"> & { active: number });

export interface Stage {
  id: string;
  environment: string;
  position: number;
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

/** A PostgreSQL error as an executor records it. */
export interface RunError {
  message: string;
  code?: string;
  position?: number | string;
  detail?: string;
  hint?: string;
  [key: string]: unknown;
}

/** What a run's result may carry (stored as JSON): rows affected, or the error with code and position. */
export interface RunResult {
  error?: RunError;
  message?: string;
  position?: number | string;
  [key: string]: unknown;
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
  canceledBy: string | null;
  cancelRequestedAt: string | null;
  /** Replica that owns (or last owned) the run. */
  replicaId: string | null;
  /** Only on a PENDING run: the first gate that holds it. */
  waitingCause?: ServedWaitingCause;
  /**
   * Only on a RUNNING run whose owner was lost while its target could not be reached: it keeps holding
   * its gate until the sweeper confirms on the target what became of it.
   */
  ownerLost?: { since: string; error: string | null };
  result?: RunResult;
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
  skipReason?: string;
  /** The highest attempt; absent while the task never ran. */
  latestRun?: TaskRun;
}

export interface LogEntry {
  id: string;
  at: string;
  type: string;
  replicaId: string | null;
  message: string;
  data: Record<string, unknown>;
}
