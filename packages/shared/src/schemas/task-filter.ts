import { Type, type Static } from "typebox";
import { TaskStatusSchema } from "./common.js";

/**
 * Which tasks of a rollout a view shows, as the server resolves it (`store/task-filter.ts` turns it into
 * SQL, the one place that does). Bulk actions can target "everything matching" it. More fields (search,
 * stage, …) are added here and there together.
 */
export const TaskFilter = Type.Object(
  {
    status: Type.Optional(Type.Array(TaskStatusSchema, { maxItems: 8, uniqueItems: true, description: "Any of these derived statuses" })),
  },
  { additionalProperties: false, description: "A task filter; an empty object matches every task of the rollout" },
);
export type TaskFilter = Static<typeof TaskFilter>;
