import { Type, type Static } from "typebox";
import { Nullable, Timestamp } from "./common.js";

/** A project's automatic retry of lock and serialization failures (55P03, 40P01, 40001). */
export const RetryPolicy = Type.Object(
  {
    lockTimeoutMs: Type.Integer({
      minimum: 0,
      maximum: 3_600_000,
      description: "Applied as SET LOCAL lock_timeout to each transactional run; 0 = none (wait up to the statement timeout)",
    }),
    maxAutoRetries: Type.Integer({ minimum: 0, maximum: 100, description: "Automatic retries per run; 0 = never retry" }),
    backoffBaseMs: Type.Integer({ minimum: 0, maximum: 3_600_000, description: "Delay before the first retry; doubles per retry" }),
    backoffMaxMs: Type.Integer({ minimum: 0, maximum: 86_400_000, description: "The longest delay between retries" }),
  },
  { examples: [{ lockTimeoutMs: 5000, maxAutoRetries: 3, backoffBaseMs: 1000, backoffMaxMs: 60000 }] },
);
export type RetryPolicy = Static<typeof RetryPolicy>;

export const RetryPolicyPatch = Type.Partial(RetryPolicy, {
  additionalProperties: false,
  minProperties: 1,
  examples: [{ lockTimeoutMs: 2000, maxAutoRetries: 5 }],
});
export type RetryPolicyPatch = Static<typeof RetryPolicyPatch>;

const Ms = (description: string) => Nullable(Type.Integer({ description }));

/** GET /task-runs/{id}/session: a RUNNING run's session on its target and the sessions blocking it. */
export const TaskRunSession = Type.Object(
  {
    session: Type.Union(
      [
        Type.Object({
          pid: Type.Integer(),
          state: Nullable(Type.String({ examples: ["active"] })),
          waitEventType: Nullable(Type.String({ examples: ["Lock"] })),
          waitEvent: Nullable(Type.String({ examples: ["relation"] })),
          inStateMs: Ms("Time in this state"),
        }),
        Type.Null(),
      ],
      { description: "The run's session (found by its application_name); null when none is on the target right now" },
    ),
    blockers: Type.Array(
      Type.Object({
        pid: Type.Integer(),
        user: Nullable(Type.String()),
        application: Nullable(Type.String()),
        state: Nullable(Type.String()),
        transactionAgeMs: Ms("Age of its open transaction; null outside one"),
        query: Nullable(Type.String({ description: "What it runs or last ran (first 1000 characters)" })),
      }),
      { description: "Sessions holding locks the run waits for (pg_blocking_pids)" },
    ),
    readAt: Timestamp("When the target was read (the control database's clock)"),
  },
  { description: "Read with the instance's credentials; nothing on the target is changed" },
);
export type TaskRunSession = Static<typeof TaskRunSession>;
