import { Type, type Static } from "typebox";
import { Id, Nullable, Timestamp } from "./common.js";
import { NextPageToken, PageQuery } from "./page.js";

/** One entry of a task run's log. */
export const LogEntry = Type.Object({
  id: Id("Entry id"),
  at: Timestamp(),
  type: Type.String({ examples: ["STATUS"] }),
  replicaId: Nullable(Type.String()),
  message: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type LogEntry = Static<typeof LogEntry>;

export const LogQuery = Type.Object(PageQuery(500), { additionalProperties: false });
export const LogEntries = Type.Object({ entries: Type.Array(LogEntry), nextPageToken: NextPageToken });
export type LogEntries = Static<typeof LogEntries>;
