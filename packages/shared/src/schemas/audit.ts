import { Type, type Static } from "typebox";
import { Id, Nullable, Timestamp } from "./common.js";
import { NextPageToken, PageQuery } from "./page.js";

export const AuditQuery = Type.Object(
  {
    actor: Type.Optional(Type.String({ maxLength: 64 })),
    action: Type.Optional(Type.String({ maxLength: 64 })),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: "^[^\\u0000]*$",
        description: "Search actor, action, target, outcome and client address (substring, any case)",
      }),
    ),
    outcome: Type.Optional(
      Type.String({ maxLength: 64, description: "Only entries with this outcome (SUCCESS, an error code, IN_PROGRESS)" }),
    ),
    ...PageQuery(100),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;
export const AuditEntry = Type.Object({
  id: Id("Entry id"),
  at: Timestamp(),
  actor: Nullable(Type.String()),
  action: Type.String({ examples: ["task-runs.cancel"] }),
  target: Nullable(Type.String({ examples: ["rollout/12"] })),
  outcome: Type.String({
    description: "SUCCESS, the error code, or IN_PROGRESS (the request was acting; its outcome was not recorded)",
    examples: ["SUCCESS", "CONFLICT"],
  }),
  detail: Type.Unknown(),
  clientAddress: Nullable(
    Type.String({
      description: "The client's address (from X-Forwarded-For when RUNWAY_TRUST_PROXY is set); null for entries older than the column",
    }),
  ),
});
export type AuditEntry = Static<typeof AuditEntry>;
export const AuditEntries = Type.Object({ entries: Type.Array(AuditEntry), nextPageToken: NextPageToken });
export type AuditEntries = Static<typeof AuditEntries>;
