import { Type, type Static } from "typebox";
import { Id, Timestamp } from "./common.js";

const since = Timestamp("Since when this cause holds");

/**
 * A waiting cause as served. The stored one (`WaitingCause` in status.ts) is the same but for
 * PARALLEL_LIMIT's `active`, which the API fills in with the rollout's live AVAILABLE+RUNNING count.
 */
export const ServedWaitingCause = Type.Union(
  [
    Type.Object({ type: Type.Literal("RUN_AT"), runAt: Timestamp(), since }),
    Type.Object({
      type: Type.Literal("VERSION_ORDER"),
      taskId: Id("The unfinished task with a smaller version"),
      schemaVersion: Type.String(),
      since,
    }),
    Type.Object({ type: Type.Literal("DATABASE_BUSY"), taskId: Id("The task whose run holds the database"), since }),
    Type.Object({
      type: Type.Literal("PARALLEL_LIMIT"),
      limit: Type.Integer(),
      active: Type.Integer({ description: "AVAILABLE+RUNNING runs of the rollout now" }),
      since,
    }),
    Type.Object({
      type: Type.Literal("TARGET_UNREACHABLE"),
      attempts: Type.Integer({ minimum: 1, description: "Executions that could not reach the target so far" }),
      lastError: Type.String(),
      retryAt: Timestamp("When the next attempt may start"),
      since: Timestamp("Since when the target could not be reached"),
    }),
    Type.Object({
      type: Type.Literal("RETRY_BACKOFF"),
      until: Timestamp("When the automatic retry may start"),
      attempt: Type.Integer({ minimum: 1, description: "Which automatic retry this is (1-based)" }),
      max: Type.Integer({ minimum: 1, description: "The project's maxAutoRetries when the retry was decided" }),
      since,
    }),
    Type.Object({
      type: Type.Literal("BLOCKED_BY_FAILED"),
      taskId: Id("The FAILED or CANCELED task with a smaller version; retry or skip it to go on"),
      schemaVersion: Type.String(),
      status: Type.Union([Type.Literal("FAILED"), Type.Literal("CANCELED")]),
      since,
    }),
    Type.Object({
      type: Type.Literal("STAGE_GATE"),
      stageId: Id("The nearest earlier stage with unfinished tasks"),
      environment: Type.String(),
      done: Type.Integer({
        minimum: 0,
        description: "Its tasks DONE or SKIPPED when the cause was recorded (GET /rollouts/{id}/gates has them live)",
      }),
      total: Type.Integer({ minimum: 0, description: "Its tasks" }),
      since,
    }),
    Type.Object({
      type: Type.Literal("APPROVAL_REQUIRED"),
      stageId: Id("The run's stage, waiting for an approval"),
      role: Type.Union([Type.Literal("releaser"), Type.Literal("admin")], { description: "Least role that may approve" }),
      since,
    }),
    Type.Object({
      type: Type.Literal("PAUSED"),
      by: Type.String({ description: 'Who paused the rollout; "circuit-breaker" when it paused itself' }),
      at: Timestamp("When it was paused"),
      reason: Type.String(),
      since,
    }),
  ],
  { description: "Why a PENDING run waits: the first gate that holds it" },
);
export type ServedWaitingCause = Static<typeof ServedWaitingCause>;
