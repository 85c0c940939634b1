import type { Db } from "./db.js";
import { StoreError } from "./errors.js";

export interface DatabaseGroup {
  projectId: string;
  name: string;
  instanceId: string;
  pattern: string | null;
  includes: string[];
  excludes: string[];
  updatedAt: Date;
}

type Row = {
  project_id: string;
  name: string;
  instance_id: string;
  pattern: string | null;
  includes: string[];
  excludes: string[];
  updated_at: Date;
};
const COLUMNS = ["project_id", "name", "instance_id", "pattern", "includes", "excludes", "updated_at"] as const;
const toGroup = (r: Row): DatabaseGroup => ({
  projectId: r.project_id,
  name: r.name,
  instanceId: r.instance_id,
  pattern: r.pattern,
  includes: r.includes,
  excludes: r.excludes,
  updatedAt: r.updated_at,
});

export type GroupRule = Pick<DatabaseGroup, "instanceId" | "pattern" | "includes" | "excludes">;

/** The group's instance must be attached to the project (a rollout could not name it otherwise). */
async function attachedOrThrow(db: Db, projectId: string, instanceId: string): Promise<void> {
  const row = await db
    .selectFrom("project_instance")
    .innerJoin("instance", "instance.id", "project_instance.instance_id")
    .select("instance_id")
    .where("project_id", "=", projectId)
    .where("instance_id", "=", instanceId)
    .where("instance.deleted", "=", false)
    .executeTakeFirst();
  if (!row) throw new StoreError("INVALID_ARGUMENT", `instance "${instanceId}" is not attached to project "${projectId}"`);
}

export async function databaseGroupCreate(db: Db, p: { projectId: string; name: string } & GroupRule, now: Date): Promise<DatabaseGroup> {
  await attachedOrThrow(db, p.projectId, p.instanceId);
  const row = await db
    .insertInto("database_group")
    .values({
      project_id: p.projectId,
      name: p.name,
      instance_id: p.instanceId,
      pattern: p.pattern,
      includes: p.includes,
      excludes: p.excludes,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(["project_id", "name"]).doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw new StoreError("CONFLICT", `database group "${p.name}" already exists in project "${p.projectId}"`);
  return toGroup(row);
}

export async function databaseGroupUpdate(db: Db, p: { projectId: string; name: string } & GroupRule, now: Date): Promise<DatabaseGroup> {
  await attachedOrThrow(db, p.projectId, p.instanceId);
  const row = await db
    .updateTable("database_group")
    .set({ instance_id: p.instanceId, pattern: p.pattern, includes: p.includes, excludes: p.excludes, updated_at: now })
    .where("project_id", "=", p.projectId)
    .where("name", "=", p.name)
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw new StoreError("NOT_FOUND", `database group "${p.name}" not found in project "${p.projectId}"`);
  return toGroup(row);
}

export async function databaseGroupDelete(db: Db, p: { projectId: string; name: string }): Promise<void> {
  const res = await db.deleteFrom("database_group").where("project_id", "=", p.projectId).where("name", "=", p.name).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0)
    throw new StoreError("NOT_FOUND", `database group "${p.name}" not found in project "${p.projectId}"`);
}

export async function databaseGroupList(db: Db, projectId: string): Promise<DatabaseGroup[]> {
  return (await db.selectFrom("database_group").select(COLUMNS).where("project_id", "=", projectId).orderBy("name").execute()).map(toGroup);
}

export async function databaseGroupGet(db: Db, p: { projectId: string; name: string }): Promise<DatabaseGroup | undefined> {
  const row = await db
    .selectFrom("database_group")
    .select(COLUMNS)
    .where("project_id", "=", p.projectId)
    .where("name", "=", p.name)
    .executeTakeFirst();
  return row && toGroup(row);
}

/** Every project's groups on one instance (the listing loop keeps their databases' ledger snapshots fresh). */
export async function databaseGroupsOfInstance(db: Db, instanceId: string): Promise<DatabaseGroup[]> {
  return (await db.selectFrom("database_group").select(COLUMNS).where("instance_id", "=", instanceId).execute()).map(toGroup);
}
