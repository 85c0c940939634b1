import { Type, type Static, type TSchema } from "typebox";
import { TASK_STATUS_ORDER } from "@runway/shared";

/**
 * Building blocks shared by the route schemas. Every text field refuses NUL (PostgreSQL text cannot hold
 * it), every id has a pattern, every list a cap: bad input is a 400 here, never an error in SQL.
 */

/** bigint ids travel as decimal strings. 18 digits stay inside int8, so a huge id is a 404, not a SQL error. */
export const Id = (description: string, example = "42") =>
  Type.String({ pattern: "^[1-9][0-9]{0,17}$", description, examples: [example] });

/** Project and instance ids (the tables' CHECK). */
export const Slug = (description: string, example: string) =>
  Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$", description, examples: [example] });

export const Text = (min: number, max: number, extra: { description?: string; examples?: string[] } = {}) =>
  Type.String({ minLength: min, maxLength: max, pattern: "^[^\\u0000]*$", ...extra });

export const Timestamp = (description?: string) => Type.String({ format: "date-time", ...(description ? { description } : {}) });
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ID_LIST_MAX = 1000;
export const IdList = (what: string) =>
  Type.Array(Id(`${what} id`), { minItems: 1, maxItems: ID_LIST_MAX, uniqueItems: true, description: `1–${ID_LIST_MAX} distinct ${what} ids` });

export const TaskStatusSchema = Type.Enum([...TASK_STATUS_ORDER], { description: "Derived task status" });
export const StatusCounts = Type.Object(
  Object.fromEntries(TASK_STATUS_ORDER.map((s) => [s, Type.Integer({ minimum: 0 })])),
  { description: "Number of tasks in each status (zeros included)" },
);

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ examples: ["INVALID_ARGUMENT"] }),
      message: Type.String({ examples: ['body/taskIds must NOT have fewer than 1 items'] }),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { description: "Every error: a stable code, a message saying what was wrong and where, optional details" },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** Response map entries every route shares (documentation; errors are serialized by this schema). */
export const errorResponses = { "4xx": ErrorBody, "5xx": ErrorBody } as const;

export const PAGE_SIZE_MAX = 1000;
export const PageQuery = (defaultSize: number) => ({
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: defaultSize, description: `1–${PAGE_SIZE_MAX}` })),
  pageToken: Type.Optional(Type.String({ maxLength: 200, description: "nextPageToken of the previous page" })),
});
export const NextPageToken = Nullable(Type.String({ description: "Pass as pageToken for the next page; null on the last page" }));

export const NoContent = Type.Null({ description: "No content" });
