import { Type, type Static } from "typebox";

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ examples: ["INVALID_ARGUMENT"] }),
      message: Type.String({ examples: ["body/taskIds must NOT have fewer than 1 items"] }),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { description: "Every error: a stable code, a message saying what was wrong and where, optional details" },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** Response map entries every route shares (documentation; errors are serialized by this schema). */
export const errorResponses = { "4xx": ErrorBody, "5xx": ErrorBody } as const;
