import { Type, type Static } from "typebox";
import { Id, Nullable, Slug, Text, Timestamp } from "./common.js";
import { NextPageToken, PageQuery } from "./page.js";
import { DatabaseName, MAX_STAGES, Rollout } from "./rollout.js";

/** Instance databases, database groups, releases and rollouts from releases (issue 16). */

export const MAX_RELEASE_FILES = 2000;
/** Everything a release upload may hold, uncompressed. */
export const MAX_RELEASE_BYTES = 32 * 1024 * 1024;

export const InstanceDatabases = Type.Object({
  instanceId: Slug("Instance id", "pg-main"),
  databases: Type.Array(Type.String(), { description: "Databases the instance's role may connect to, by name" }),
  listedAt: Nullable(Timestamp("When the list was read from the target; null: never")),
  attemptedAt: Nullable(Timestamp("The last attempt to read it")),
  error: Nullable(Type.String({ description: "Why the last attempt failed (the list is the one before)" })),
});
export type InstanceDatabases = Static<typeof InstanceDatabases>;

const GroupName = Slug("Database group name", "tenants");
const NameList = Type.Array(DatabaseName, { maxItems: 10000, uniqueItems: true });
const GlobPattern = Nullable(
  Text(1, 200, { description: "Glob over database names: * ? [abc] {a,b}; null matches nothing", examples: ["tenant_*"] }),
);

export const DatabaseGroupRule = Type.Object(
  {
    instanceId: Slug("Instance the group's databases are on", "pg-main"),
    pattern: GlobPattern,
    includes: Type.Optional(NameList),
    excludes: Type.Optional(NameList),
  },
  { additionalProperties: false },
);
export type DatabaseGroupRule = Static<typeof DatabaseGroupRule>;
export const DatabaseGroupCreate = Type.Object(
  { name: GroupName, ...DatabaseGroupRule.properties },
  { additionalProperties: false, examples: [{ name: "tenants", instanceId: "pg-main", pattern: "tenant_*", excludes: ["tenant_demo"] }] },
);
export type DatabaseGroupCreate = Static<typeof DatabaseGroupCreate>;

export const DatabaseGroupResolution = Type.Object({
  databases: Type.Array(Type.String(), { description: "What the group names now, from the instance's stored database list" }),
  missing: Type.Array(Type.String(), { description: "Includes the instance does not have" }),
  listedAt: Nullable(Timestamp("When the instance's databases were last listed")),
});
export type DatabaseGroupResolution = Static<typeof DatabaseGroupResolution>;

export const DatabaseGroup = Type.Object({
  name: GroupName,
  instanceId: Slug("Instance id", "pg-main"),
  pattern: Nullable(Type.String()),
  includes: Type.Array(Type.String()),
  excludes: Type.Array(Type.String()),
  updatedAt: Timestamp(),
  resolved: Type.Integer({ minimum: 0, description: "How many databases the group names now" }),
});
export type DatabaseGroup = Static<typeof DatabaseGroup>;
export const DatabaseGroupList = Type.Object({ groups: Type.Array(DatabaseGroup) });
export type DatabaseGroupList = Static<typeof DatabaseGroupList>;
export const DatabaseGroupParams = Type.Object({ projectId: Slug("Project id", "payments"), name: GroupName });

const FileType = Type.Enum(["DATABASE_SCHEMA_UPDATE", "DATABASE_SDL", "DATABASE_DATA_UPDATE"], {
  description: "Overrides the file's `-- runway:type=schema|data|sdl` header (default: schema)",
});

export const ReleaseFileInput = Type.Object(
  {
    name: Text(1, 500, { description: "File name: V<version>__<description>.sql is versioned; R__<d>.sql or any other .sql unversioned" }),
    content: Type.String({ maxLength: MAX_RELEASE_BYTES }),
    type: Type.Optional(FileType),
  },
  { additionalProperties: false },
);

export const ReleaseCreate = Type.Object(
  {
    title: Text(1, 200, { examples: ["2026-12 tenant schema"] }),
    files: Type.Array(ReleaseFileInput, { minItems: 1, maxItems: MAX_RELEASE_FILES }),
    contentHash: Type.Optional(Type.String({ pattern: "^[0-9a-f]{64}$", description: "When given, the stored release must hash to it" })),
  },
  {
    additionalProperties: false,
    examples: [{ title: "Orders v2", files: [{ name: "V0001__create_orders.sql", content: "CREATE TABLE orders (id bigint)" }] }],
  },
);
export type ReleaseCreate = Static<typeof ReleaseCreate>;

export const ReleaseFile = Type.Object({
  name: Type.String(),
  version: Nullable(Type.String()),
  description: Type.String(),
  type: Type.String(),
  sha256: Type.String(),
  statement: Type.Optional(Type.String()),
});
export const Release = Type.Object({
  id: Id("Release id"),
  projectId: Slug("Project id", "payments"),
  title: Type.String(),
  contentHash: Type.String({ description: "SHA-256 over the files' names, types and contents" }),
  createdBy: Type.String(),
  createdAt: Timestamp(),
  fileCount: Type.Integer({ minimum: 0 }),
  files: Type.Optional(Type.Array(ReleaseFile)),
  ignored: Type.Optional(
    Type.Array(Type.String(), {
      description: "Uploaded files left out: not SQL, or Flyway's undo (U<version>__) and baseline (B<version>__) scripts",
    }),
  ),
});
export type Release = Static<typeof Release>;
export const ReleaseList = Type.Object({ releases: Type.Array(Release), nextPageToken: NextPageToken });
export type ReleaseList = Static<typeof ReleaseList>;
export const ReleaseListQuery = Type.Object(PageQuery(50), { additionalProperties: false });
export const ReleaseParams = Type.Object({ releaseId: Id("Release id") });

export const StageTarget = Type.Union([
  Type.Object({ group: GroupName }, { additionalProperties: false }),
  Type.Object({ instanceId: Slug("Instance id", "pg-main"), database: DatabaseName }, { additionalProperties: false }),
]);
export const ReleaseStages = Type.Array(
  Type.Object(
    { environment: Text(1, 100, { examples: ["staging"] }), targets: Type.Array(StageTarget, { minItems: 1, maxItems: 10000 }) },
    { additionalProperties: false },
  ),
  { minItems: 1, maxItems: MAX_STAGES },
);
export const ReleasePreviewRequest = Type.Object(
  { stages: ReleaseStages },
  { additionalProperties: false, examples: [{ stages: [{ environment: "staging", targets: [{ group: "staging-tenants" }] }] }] },
);
export type ReleasePreviewRequest = Static<typeof ReleasePreviewRequest>;
export const ReleaseRolloutCreate = Type.Object(
  { title: Type.Optional(Text(1, 200)), stages: ReleaseStages },
  { additionalProperties: false, examples: [{ title: "Orders v2", stages: [{ environment: "prod", targets: [{ group: "tenants" }] }] }] },
);
export type ReleaseRolloutCreate = Static<typeof ReleaseRolloutCreate>;

export const PlannedDatabase = Type.Object({
  instanceId: Type.String(),
  database: Type.String(),
  pending: Type.Array(Type.String(), { description: "Files to apply, in order" }),
  applied: Type.Integer({ minimum: 0, description: "Files whose exact content the ledger records" }),
  changed: Type.Array(Type.String(), { description: "Versions applied with other content: flagged, never re-run" }),
  error: Type.Optional(Type.String({ description: "The ledger could not be read" })),
  readAt: Type.Optional(Timestamp("When the ledger planned from was read on the target (its snapshot's age)")),
});
export const ReleasePlan = Type.Object({
  releaseId: Id("Release id"),
  stages: Type.Array(
    Type.Object({
      environment: Type.String(),
      groups: Type.Array(
        Type.Object({ name: Type.String(), instanceId: Type.String(), databases: Type.Integer(), missing: Type.Array(Type.String()) }),
      ),
      databases: Type.Array(PlannedDatabase),
      tasks: Type.Integer({ minimum: 0 }),
    }),
  ),
  totals: Type.Object({
    databases: Type.Integer(),
    tasks: Type.Integer(),
    applied: Type.Integer(),
    changed: Type.Integer(),
    unreadable: Type.Integer(),
  }),
  ledgers: Type.Object(
    {
      readNow: Type.Integer({ minimum: 0, description: "Ledgers read on their targets for this plan" }),
      fromSnapshot: Type.Integer({ minimum: 0, description: "Ledgers taken from the control database's snapshots" }),
      oldestReadAt: Nullable(Timestamp("When the oldest ledger planned from was read")),
    },
    { description: "Where the ledgers came from (issue 16)" },
  ),
});
export type ReleasePlan = Static<typeof ReleasePlan>;
export const ReleaseRolloutCreated = Type.Object({
  rollout: Rollout,
  totals: ReleasePlan.properties.totals,
});
export type ReleaseRolloutCreated = Static<typeof ReleaseRolloutCreated>;
