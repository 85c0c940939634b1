import { Type } from "typebox";
import { TaskRunStatus } from "@runway/shared";
import { Id, IdList, NextPageToken, Nullable, PageQuery, Slug, TaskStatusSchema, Text, Timestamp } from "./common.js";
import { TaskTypeSchema } from "./rollouts.js";

const since = Timestamp("Since when this cause holds");
export const WaitingCause = Type.Union(
  [
    Type.Object({ type: Type.Literal("RUN_AT"), runAt: Timestamp(), since }),
    Type.Object({ type: Type.Literal("VERSION_ORDER"), taskId: Id("The unfinished task with a smaller version"), schemaVersion: Type.String(), since }),
    Type.Object({ type: Type.Literal("DATABASE_BUSY"), taskId: Id("The task whose run holds the database"), since }),
    Type.Object({ type: Type.Literal("PARALLEL_LIMIT"), limit: Type.Integer(), active: Type.Integer({ description: "AVAILABLE+RUNNING runs of the rollout now" }), since }),
    Type.Object({
      type: Type.Literal("TARGET_UNREACHABLE"),
      attempts: Type.Integer({ minimum: 1, description: "Executions that could not reach the target so far" }),
      lastError: Type.String(),
      retryAt: Timestamp("When the next attempt may start"),
      since: Timestamp("Since when the target could not be reached"),
    }),
  ],
  { description: "Why a PENDING run waits: the first gate that holds it" },
);

export const TaskRun = Type.Object({
  id: Id("Task run id"),
  taskId: Id("Task id"),
  attempt: Type.Integer({ minimum: 1 }),
  status: Type.Enum(Object.values(TaskRunStatus)),
  runAt: Nullable(Timestamp()),
  createdAt: Timestamp(),
  startedAt: Nullable(Timestamp()),
  finishedAt: Nullable(Timestamp()),
  createdBy: Nullable(Type.String()),
  canceledBy: Nullable(Type.String()),
  cancelRequestedAt: Nullable(Timestamp()),
  replicaId: Nullable(Type.String({ description: "Replica that owns (or last owned) the run" })),
  waitingCause: Type.Optional(WaitingCause),
  ownerLost: Type.Optional(Type.Object(
    { since: Timestamp(), error: Nullable(Type.String()) },
    { description: "RUNNING, owner lost since `since`, waiting to confirm on the target (which could not be reached: `error`)" },
  )),
  result: Type.Optional(Type.Unknown({ description: "Executor result: rows affected, or the PostgreSQL error with code and position" })),
});

export const Task = Type.Object({
  id: Id("Task id"),
  rolloutId: Id("Rollout id"),
  stageId: Id("Stage id"),
  type: TaskTypeSchema,
  instanceId: Slug("Instance id", "pg-main"),
  database: Type.String(),
  schemaVersion: Nullable(Type.String()),
  statement: Type.String(),
  status: TaskStatusSchema,
  skipReason: Type.Optional(Type.String()),
  latestRun: Type.Optional(TaskRun),
});

export const TaskListQuery = Type.Object(
  {
    status: Type.Optional(Type.Array(TaskStatusSchema, { maxItems: 8, uniqueItems: true, description: "Repeat to match any of several statuses" })),
    stageId: Type.Optional(Id("Only this stage's tasks")),
    updatedSince: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        pattern: "^[A-Za-z0-9_-]+$",
        description: "`cursor` of an earlier list: only the tasks that changed since (with their latest runs). Not with `status`.",
      }),
    ),
    ...PageQuery(100),
  },
  { additionalProperties: false },
);
export const TaskList = Type.Object({
  tasks: Type.Array(Task),
  nextPageToken: NextPageToken,
  cursor: Type.String({
    description: "Pass as updatedSince later to get what changed after this list was read. When paging, keep the first page's cursor.",
  }),
});
export const TaskParams = Type.Object({ taskId: Id("Task id") });
export const TaskRunParams = Type.Object({ taskRunId: Id("Task run id") });
export const TaskRunList = Type.Object({ runs: Type.Array(TaskRun) });

export const RunBody = Type.Object(
  {
    taskIds: IdList("task"),
    runAt: Type.Optional(Timestamp("Earliest start; in the past means now")),
  },
  { additionalProperties: false, examples: [{ taskIds: ["101", "102"] }, { taskIds: ["103"], runAt: "2030-01-01T02:00:00Z" }] },
);
export const RunResults = Type.Object({
  results: Type.Array(Type.Object({
    taskId: Id("Task id"),
    outcome: Type.Enum(["CREATED", "ALREADY_ACTIVE", "ALREADY_DONE", "TASK_SKIPPED"]),
    taskRunId: Type.Optional(Id("The run created")),
  })),
}, { examples: [{ results: [{ taskId: "101", outcome: "CREATED", taskRunId: "900" }, { taskId: "102", outcome: "ALREADY_DONE" }] }] });

export const SkipBody = Type.Object(
  { taskIds: IdList("task"), reason: Text(1, 1000, { examples: ["applied by hand during the incident"] }) },
  { additionalProperties: false, examples: [{ taskIds: ["104"], reason: "applied by hand during the incident" }] },
);
export const SkipResult = Type.Object({ skipped: Type.Array(Id("Task id")) });

export const CancelBody = Type.Object(
  { taskRunIds: IdList("task run") },
  { additionalProperties: false, examples: [{ taskRunIds: ["900"] }] },
);
export const CancelResults = Type.Object({
  results: Type.Array(Type.Object({ taskRunId: Id("Task run id"), outcome: Type.Enum(["CANCELED", "CANCEL_REQUESTED"]) })),
}, { examples: [{ results: [{ taskRunId: "900", outcome: "CANCEL_REQUESTED" }] }] });

export const LogQuery = Type.Object(PageQuery(500), { additionalProperties: false });
export const LogEntries = Type.Object({
  entries: Type.Array(Type.Object({
    id: Id("Entry id"),
    at: Timestamp(),
    type: Type.String({ examples: ["STATUS"] }),
    replicaId: Nullable(Type.String()),
    message: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown()),
  })),
  nextPageToken: NextPageToken,
});
