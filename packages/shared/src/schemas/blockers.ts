import { Type, type Static } from "typebox";
import { Id, Nullable, TaskStatusSchema, Timestamp } from "./common.js";
import { ServedWaitingCause } from "./waiting-cause.js";

const count = Type.Integer({ minimum: 0 });

export const RootBlocker = Type.Object(
  {
    taskId: Id("The task at the end of the chains"),
    rolloutId: Id("Its rollout (a smaller version may live in another rollout)"),
    status: TaskStatusSchema,
    schemaVersion: Nullable(Type.String()),
    database: Type.String(),
    runId: Nullable(Id("Its latest run")),
    since: Nullable(Timestamp("When its latest run started (RUNNING) or ended (FAILED, CANCELED)")),
    held: Type.Integer({ minimum: 1, description: "Waiting tasks of this rollout it holds, directly or through others" }),
    heldByStage: Type.Record(Type.String(), count, { description: "The same, per stage id" }),
    // Why the root itself waits, e.g. TARGET_UNREACHABLE: later versions wait (VERSION_ORDER) for it because its
    // target cannot be reached.
    waitingCause: Nullable(ServedWaitingCause),
  },
  { description: "A task that holds waiting tasks and waits on no task itself" },
);
export type RootBlocker = Static<typeof RootBlocker>;

export const RolloutBlockers = Type.Object(
  {
    held: Type.Integer({ minimum: 0, description: "Waiting tasks of the rollout held by another task" }),
    roots: Type.Array(RootBlocker, { description: "Most held first" }),
    stages: Type.Array(
      Type.Object({
        stageId: Id("Stage id"),
        held: count,
        blocked: Type.Integer({ minimum: 0, description: "Held by a FAILED or CANCELED task: stuck until someone retries or skips it" }),
      }),
    ),
  },
  { description: "Root-blocker summary: what the rollout's waiting tasks wait for at the end of their chains" },
);
export type RolloutBlockers = Static<typeof RolloutBlockers>;
