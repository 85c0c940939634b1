import { Type, type Static } from "typebox";
import { SCHEMA_VERSION_PATTERN } from "../version.js";
import { Id, Nullable, Slug, StatusCounts, TaskTypeSchema, Text, Timestamp } from "./common.js";
import { NextPageToken, PageQuery } from "./page.js";

export const MAX_STAGES = 100;
export const MAX_TASKS_PER_ROLLOUT = 10000;
export const MAX_STATEMENT_LENGTH = 1_000_000;

/** PostgreSQL database names: at most 63 bytes; letters, digits, _ $ and - (quoted by the executor). */
export const DatabaseName = Type.String({
  pattern: "^[A-Za-z_][A-Za-z0-9_$-]{0,62}$",
  description: "Target database name",
  examples: ["orders"],
});
export const SchemaVersion = Type.String({
  pattern: SCHEMA_VERSION_PATTERN.source,
  description: "Versions compare part by part, numerically where both parts are numbers",
  examples: ["0007"],
});

const createExample = {
  title: "Add orders.status",
  stages: [
    {
      environment: "staging",
      tasks: [
        {
          type: "DATABASE_SCHEMA_UPDATE",
          instanceId: "pg-main",
          database: "orders_staging",
          statement: "ALTER TABLE orders ADD COLUMN status text",
          schemaVersion: "0007",
        },
      ],
    },
    {
      environment: "prod",
      tasks: [
        {
          type: "DATABASE_SCHEMA_UPDATE",
          instanceId: "pg-main",
          database: "orders",
          statement: "ALTER TABLE orders ADD COLUMN status text",
          schemaVersion: "0007",
        },
      ],
    },
  ],
};

/** A task as a new rollout declares it. */
export const NewTask = Type.Object(
  {
    type: TaskTypeSchema,
    instanceId: Slug("Instance id", "pg-main"),
    database: DatabaseName,
    statement: Text(0, MAX_STATEMENT_LENGTH, { description: "SQL to apply (may be empty only for DATABASE_CREATE)" }),
    schemaVersion: Type.Optional(Nullable(SchemaVersion)),
  },
  { additionalProperties: false },
);
export type NewTask = Static<typeof NewTask>;

export const RolloutCreate = Type.Object(
  {
    title: Text(1, 200, { examples: ["Add orders.status"] }),
    stages: Type.Array(
      Type.Object(
        {
          environment: Text(1, 100, { examples: ["staging"] }),
          tasks: Type.Array(NewTask, { minItems: 1, maxItems: MAX_TASKS_PER_ROLLOUT }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_STAGES, description: `1–${MAX_STAGES} stages, ${MAX_TASKS_PER_ROLLOUT} tasks in all at most` },
    ),
    stageOrder: Type.Optional(
      Type.Union([Type.Literal("NONE"), Type.Literal("IN_ORDER")], {
        default: "IN_ORDER",
        description: "IN_ORDER: a stage's runs wait until every task of every earlier stage is DONE or SKIPPED; NONE: stages are labels",
      }),
    ),
  },
  { additionalProperties: false, examples: [createExample] },
);
export type RolloutCreate = Static<typeof RolloutCreate>;

export const Stage = Type.Object({ id: Id("Stage id"), environment: Type.String(), position: Type.Integer(), statusCounts: StatusCounts });
export type Stage = Static<typeof Stage>;

const summaryFields = {
  id: Id("Rollout id"),
  projectId: Slug("Project id", "payments"),
  title: Type.String(),
  createdAt: Timestamp(),
  createdBy: Type.String(),
  statusCounts: StatusCounts,
};

export const RolloutSummary = Type.Object(summaryFields);
export type RolloutSummary = Static<typeof RolloutSummary>;
export const Rollout = Type.Object({ ...summaryFields, stages: Type.Array(Stage) });
export type Rollout = Static<typeof Rollout>;

export const RolloutParams = Type.Object({ rolloutId: Id("Rollout id") });
export const RolloutListQuery = Type.Object(PageQuery(50), { additionalProperties: false });
export const RolloutList = Type.Object({ rollouts: Type.Array(RolloutSummary), nextPageToken: NextPageToken });
export type RolloutList = Static<typeof RolloutList>;
