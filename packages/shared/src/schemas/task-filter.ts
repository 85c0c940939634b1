import { Type, type Static } from "typebox";
import { Id, TaskStatusSchema, TaskTypeSchema, Text } from "./common.js";

/**
 * Which of a rollout's tasks a view, an export or a bulk action means. Every field narrows (AND); `status`
 * matches any of its values. The server turns it into SQL in one place (store/task-filter.ts), so a list,
 * its CSV export and a bulk action by filter always agree on the same tasks.
 */
export const TaskFilterFields = {
  status: Type.Optional(
    Type.Array(TaskStatusSchema, { maxItems: 8, uniqueItems: true, description: "Repeat to match any of several statuses" }),
  ),
  stageId: Type.Optional(Id("Only this stage's tasks")),
  instanceId: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$", description: "Only tasks on this instance" })),
  database: Type.Optional(Text(1, 200, { description: "Only tasks on this database (exact name)" })),
  type: Type.Optional(TaskTypeSchema),
  errorCode: Type.Optional(
    Type.String({
      pattern: "^([0-9A-Z_]{5,40}|none)$",
      description:
        "Only FAILED tasks whose latest run failed with this code: a SQLSTATE or one of Runway's (CONNECT_TIMEOUT, …); `none`: without one",
      examples: ["42P07"],
    }),
  ),
  q: Type.Optional(
    Text(1, 200, {
      description: "Search: task id (`#12` or `12`), database, schema version, statement or the latest error (case-insensitive substring)",
    }),
  ),
};
export const TaskFilter = Type.Object(TaskFilterFields, { additionalProperties: false });
export type TaskFilter = Static<typeof TaskFilter>;

/** Columns a task list sorts by; ties fall back to the task id. */
export const TASK_SORT_KEYS = ["id", "database", "type", "schemaVersion", "status", "stage", "started", "finished", "duration"] as const;
export type TaskSortKey = (typeof TASK_SORT_KEYS)[number];
export const TaskSortFields = {
  sort: Type.Optional(Type.Enum([...TASK_SORT_KEYS], { description: "Sort column (default: id)" })),
  order: Type.Optional(Type.Enum(["asc", "desc"], { description: "Sort direction (default: asc)" })),
};

/** Failed tasks grouped by the error of their latest run (`GET …/tasks/failure-groups`). */
export const FailureGroup = Type.Object({
  errorCode: Type.String({ description: "SQLSTATE, or `none` for failures without one (pass as errorCode to list them)" }),
  message: Type.String({ description: "The message of one of the group's failures" }),
  count: Type.Integer({ minimum: 1 }),
});
export type FailureGroup = Static<typeof FailureGroup>;
export const FailureGroups = Type.Object({ groups: Type.Array(FailureGroup) });
export type FailureGroups = Static<typeof FailureGroups>;
