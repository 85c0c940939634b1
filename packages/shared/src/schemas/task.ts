import { Type, type Static } from "typebox";
import { Id, IdList, Nullable, Slug, TaskStatusSchema, TaskTypeSchema, Text, Timestamp } from "./common.js";
import { NextPageToken, PageQuery } from "./page.js";
import { TaskFilterFields, TaskSortFields } from "./task-filter.js";
import { TaskRun } from "./task-run.js";

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
export type Task = Static<typeof Task>;

export const TaskListQuery = Type.Object(
  {
    ...TaskFilterFields,
    ...TaskSortFields,
    updatedSince: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        pattern: "^[A-Za-z0-9_-]+$",
        description:
          "`cursor` of an earlier list: only the tasks that changed since (with their latest runs). Only with `stageId` of the filters, not with `sort`.",
      }),
    ),
    ...PageQuery(100),
  },
  { additionalProperties: false },
);
export type TaskListQuery = Static<typeof TaskListQuery>;
export const TaskList = Type.Object({
  tasks: Type.Array(Task),
  nextPageToken: NextPageToken,
  total: Type.Optional(
    Type.Integer({ minimum: 0, description: "How many tasks match the filter; on the first page of a searched, filtered or sorted list" }),
  ),
  cursor: Type.String({
    description: "Pass as updatedSince later to get what changed after this list was read. When paging, keep the first page's cursor.",
  }),
});
export type TaskList = Static<typeof TaskList>;
export const TaskParams = Type.Object({ taskId: Id("Task id") });

export const RunBody = Type.Object(
  {
    taskIds: IdList("task"),
    runAt: Type.Optional(Timestamp("Earliest start; in the past means now")),
  },
  { additionalProperties: false, examples: [{ taskIds: ["101", "102"] }, { taskIds: ["103"], runAt: "2030-01-01T02:00:00Z" }] },
);
export type RunBody = Static<typeof RunBody>;
export const RunResultRow = Type.Object({
  taskId: Id("Task id"),
  outcome: Type.Enum(["CREATED", "ALREADY_ACTIVE", "ALREADY_DONE", "TASK_SKIPPED"]),
  taskRunId: Type.Optional(Id("The run created")),
});
export type RunResultRow = Static<typeof RunResultRow>;
export type RunOutcome = RunResultRow["outcome"];
export const RunResults = Type.Object(
  { results: Type.Array(RunResultRow) },
  {
    examples: [
      {
        results: [
          { taskId: "101", outcome: "CREATED", taskRunId: "900" },
          { taskId: "102", outcome: "ALREADY_DONE" },
        ],
      },
    ],
  },
);
export type RunResults = Static<typeof RunResults>;

export const SkipBody = Type.Object(
  { taskIds: IdList("task"), reason: Text(1, 1000, { examples: ["applied by hand during the incident"] }) },
  { additionalProperties: false, examples: [{ taskIds: ["104"], reason: "applied by hand during the incident" }] },
);
export type SkipBody = Static<typeof SkipBody>;
export const SkipResult = Type.Object({ skipped: Type.Array(Id("Task id")) });
export type SkipResult = Static<typeof SkipResult>;
