import { Type, type Static } from "typebox";
import { TaskRunStatus } from "../status.js";
import { Id, IdList, Nullable, Timestamp } from "./common.js";
import { ServedWaitingCause } from "./waiting-cause.js";

/** A PostgreSQL error as an executor records it (or, with only a message, a run the scheduler failed). */
export const RunError = Type.Object(
  {
    message: Type.String(),
    code: Type.Optional(Type.String({ description: "SQLSTATE", examples: ["42P07"] })),
    position: Type.Optional(Type.Integer({ description: "1-based character position in the statement" })),
    detail: Type.Optional(Type.String()),
    hint: Type.Optional(Type.String()),
    where: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type RunError = Static<typeof RunError>;

/** What a finished run's result carries: rows affected, or the error. Executors may add fields. */
export const RunResult = Type.Object(
  {
    error: Type.Optional(RunError),
    rowsAffected: Type.Optional(Type.Integer()),
    durationMs: Type.Optional(Type.Number()),
    created: Type.Optional(Type.Boolean({ description: "DATABASE_CREATE: false when the database already existed" })),
    alreadyApplied: Type.Optional(Type.Boolean({ description: "The target's ledger already had this task" })),
  },
  { additionalProperties: true, description: "Executor result: rows affected, or the PostgreSQL error with code and position" },
);
export type RunResult = Static<typeof RunResult>;

export const TaskRun = Type.Object({
  id: Id("Task run id"),
  taskId: Id("Task id"),
  attempt: Type.Integer({ minimum: 1 }),
  status: Type.Enum(TaskRunStatus),
  runAt: Nullable(Timestamp()),
  createdAt: Timestamp(),
  startedAt: Nullable(Timestamp()),
  finishedAt: Nullable(Timestamp()),
  createdBy: Nullable(Type.String()),
  canceledBy: Nullable(Type.String()),
  cancelRequestedAt: Nullable(Timestamp()),
  replicaId: Nullable(Type.String({ description: "Replica that owns (or last owned) the run" })),
  waitingCause: Type.Optional(ServedWaitingCause),
  /**
   * Only on a RUNNING run whose owner was lost while its target could not be reached: it keeps holding
   * its gate until the sweeper confirms on the target what became of it.
   */
  ownerLost: Type.Optional(
    Type.Object(
      { since: Timestamp(), error: Nullable(Type.String()) },
      { description: "RUNNING, owner lost since `since`, waiting to confirm on the target (which could not be reached: `error`)" },
    ),
  ),
  result: Type.Optional(RunResult),
  /** Set once the run was retried automatically after a lock or serialization failure. */
  autoRetry: Type.Optional(
    Type.Object(
      { attempt: Type.Integer({ minimum: 1 }), max: Type.Integer({ minimum: 1 }) },
      { description: "Automatic retry `attempt` of `max` (lock timeout, deadlock or serialization failure)" },
    ),
  ),
});
export type TaskRun = Static<typeof TaskRun>;

export const TaskRunParams = Type.Object({ taskRunId: Id("Task run id") });
export const TaskRunList = Type.Object({ runs: Type.Array(TaskRun) });
export type TaskRunList = Static<typeof TaskRunList>;

export const CancelBody = Type.Object(
  { taskRunIds: IdList("task run") },
  { additionalProperties: false, examples: [{ taskRunIds: ["900"] }] },
);
export type CancelBody = Static<typeof CancelBody>;
export const CancelResultRow = Type.Object({ taskRunId: Id("Task run id"), outcome: Type.Enum(["CANCELED", "CANCEL_REQUESTED"]) });
export type CancelResultRow = Static<typeof CancelResultRow>;
export type CancelOutcome = CancelResultRow["outcome"];
export const CancelResults = Type.Object(
  { results: Type.Array(CancelResultRow) },
  { examples: [{ results: [{ taskRunId: "900", outcome: "CANCEL_REQUESTED" }] }] },
);
export type CancelResults = Static<typeof CancelResults>;
