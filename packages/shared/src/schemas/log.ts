import { Type, type Static } from "typebox";
import { Id, Nullable, Timestamp } from "./common.js";
import { NextPageToken, PageQuery } from "./page.js";

/**
 * A log entry's structured event, for clients that render it in their own words (the dashboard translates
 * it): a status change `{from, to, by, replica, epoch, reason}` as the transition wrote it, a cancel request,
 * a lost owner. Entries written before events were structured have none (`event: null`): show `message`.
 */
export const LogEvent = Type.Object(
  {
    from: Nullable(Type.String({ description: "Run status before (null: the run was created)" })),
    to: Nullable(Type.String({ description: "Run status after (null: the status did not change)" })),
    by: Nullable(
      Type.String({ description: "Who moved it: api, pending-scheduler, running-scheduler, owner, drain, sweeper", examples: ["owner"] }),
    ),
    user: Nullable(Type.String({ description: "The user who asked (changes made through the API)" })),
    replica: Nullable(Type.String({ description: "The replica concerned (the claimer, the lost owner)" })),
    epoch: Nullable(Type.Integer({ description: "Lease epoch" })),
    reason: Nullable(Type.String({ description: "The server's English explanation, e.g. the PostgreSQL error of a failure" })),
  },
  { description: "Structured event; null for older entries" },
);
export type LogEvent = Static<typeof LogEvent>;

/** One entry of a task run's log. */
export const LogEntry = Type.Object({
  id: Id("Entry id"),
  at: Timestamp(),
  type: Type.String({ examples: ["STATUS"] }),
  replicaId: Nullable(Type.String()),
  message: Type.String({ description: "English text; clients that translate render `event` instead when it is not null" }),
  event: Nullable(LogEvent),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type LogEntry = Static<typeof LogEntry>;

export const LogQuery = Type.Object(PageQuery(500), { additionalProperties: false });
export const LogEntries = Type.Object({ entries: Type.Array(LogEntry), nextPageToken: NextPageToken });
export type LogEntries = Static<typeof LogEntries>;
