import { Type, type Static } from "typebox";
import { Id, Text, TaskStatusSchema, Timestamp } from "./common.js";
import { MAX_TASKS_PER_ROLLOUT } from "./rollout.js";
import { TaskFilter } from "./task-filter.js";

export const BulkAction = Type.Union(
  [Type.Literal("run"), Type.Literal("schedule"), Type.Literal("retry"), Type.Literal("cancel"), Type.Literal("skip")],
  {
    description:
      "run: NOT_STARTED now; schedule: NOT_STARTED at runAt; retry: FAILED/CANCELED; cancel: active runs; skip: NOT_STARTED/FAILED/CANCELED",
  },
);
export type BulkAction = Static<typeof BulkAction>;

export const BulkBody = Type.Object(
  {
    action: BulkAction,
    /** Exactly one of taskIds and filter. */
    taskIds: Type.Optional(
      Type.Array(Id("task id"), { minItems: 1, maxItems: MAX_TASKS_PER_ROLLOUT, uniqueItems: true, description: "The tasks to act on" }),
    ),
    filter: Type.Optional(TaskFilter),
    runAt: Type.Optional(Timestamp("schedule: when (in the future)")),
    reason: Type.Optional(Text(1, 1000, { description: "skip: why" })),
    atomic: Type.Optional(Type.Boolean({ description: "All or nothing: when any task does not allow the action, change none (409)" })),
    dryRun: Type.Optional(Type.Boolean({ description: "Only say what would happen to each task now (the dialog's count)" })),
  },
  { additionalProperties: false },
);
export type BulkBody = Static<typeof BulkBody>;

export const BulkResultKind = Type.Union([Type.Literal("CHANGED"), Type.Literal("ALREADY"), Type.Literal("NOT_ALLOWED")]);
export type BulkResultKind = Static<typeof BulkResultKind>;

export const BulkResult = Type.Object({
  taskId: Id("Task id"),
  result: BulkResultKind,
  /** The task's status when the action was decided (absent for a task not found in the rollout). */
  status: Type.Optional(TaskStatusSchema),
  /**
   * NOT_ALLOWED: why, as a stable code (STATUS: its status does not allow it; NOT_FOUND: no such task in the
   * rollout; CHECKS_FAILED: the project's check policy refuses it, see `failing`).
   */
  reason: Type.Optional(Type.String()),
  /** CHECKS_FAILED: the failing checks (LINT_ERRORS, DRY_RUN_REQUIRED, DRY_RUN_FAILED). */
  failing: Type.Optional(Type.Array(Type.String())),
  taskRunId: Type.Optional(Id("The run created or canceled")),
  /** cancel of a RUNNING run: requested, its owner aborts it. */
  cancelRequested: Type.Optional(Type.Boolean()),
});
export type BulkResult = Static<typeof BulkResult>;

export const BulkResults = Type.Object({
  action: BulkAction,
  results: Type.Array(BulkResult, { description: "One per targeted task, by task id" }),
  counts: Type.Object({ CHANGED: Type.Integer(), ALREADY: Type.Integer(), NOT_ALLOWED: Type.Integer() }),
});
export type BulkResults = Static<typeof BulkResults>;
