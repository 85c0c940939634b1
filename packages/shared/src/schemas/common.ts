import { Type, type Static, type TSchema } from "typebox";
import { TASK_STATUS_ORDER, TASK_TYPES, TaskStatus } from "../status.js";

/**
 * Building blocks of the resource schemas. Every text field refuses NUL (PostgreSQL text cannot hold it),
 * every id has a pattern, every list a cap: bad input is a 400 at the API's edge, never an error in SQL.
 */

/** bigint ids travel as decimal strings. 18 digits stay inside int8, so a huge id is a 404, not a SQL error. */
export const Id = (description: string, example = "42") => Type.String({ pattern: "^[1-9][0-9]{0,17}$", description, examples: [example] });

/** Project and instance ids (the tables' CHECK). */
export const Slug = (description: string, example: string) =>
  Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$", description, examples: [example] });

export const Text = (min: number, max: number, extra: { description?: string; examples?: string[] } = {}) =>
  Type.String({ minLength: min, maxLength: max, pattern: "^[^\\u0000]*$", ...extra });

export const Timestamp = (description?: string) => Type.String({ format: "date-time", ...(description ? { description } : {}) });
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ID_LIST_MAX = 1000;
export const IdList = (what: string) =>
  Type.Array(Id(`${what} id`), {
    minItems: 1,
    maxItems: ID_LIST_MAX,
    uniqueItems: true,
    description: `1–${ID_LIST_MAX} distinct ${what} ids`,
  });

export const TaskStatusSchema = Type.Enum([...TASK_STATUS_ORDER], { description: "Derived task status" });
export const TaskTypeSchema = Type.Enum([...TASK_TYPES], {
  description: "DATABASE_CREATE, DATABASE_SCHEMA_UPDATE and DATABASE_SDL are sequential per database",
});

const count = Type.Integer({ minimum: 0 });
/** Spelled out (not built from TASK_STATUS_ORDER) so that its static type has every status as a key. */
export const StatusCounts = Type.Object(
  {
    [TaskStatus.NOT_STARTED]: count,
    [TaskStatus.PENDING]: count,
    [TaskStatus.AVAILABLE]: count,
    [TaskStatus.RUNNING]: count,
    [TaskStatus.DONE]: count,
    [TaskStatus.FAILED]: count,
    [TaskStatus.CANCELED]: count,
    [TaskStatus.SKIPPED]: count,
  },
  { description: "Number of tasks in each status (zeros included)" },
);
export type StatusCounts = Static<typeof StatusCounts>;

export const NoContent = Type.Null({ description: "No content" });
