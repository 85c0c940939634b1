import { sql } from "kysely";
import { Channel, type Db } from "./db.js";
import { StoreError } from "./errors.js";
import { gatingRequestFullPass } from "./gating.js";
import { notifyPending } from "./notify.js";

export interface Instance {
  id: string;
  title: string;
  engine: "POSTGRES";
  /** As stored: sealed (secrets/secret-box.ts). Opened only by the executor and to mask it for display. */
  connectionUrl: string;
}

/** Seals a plaintext secret before it is stored (a SecretBox). */
export interface Sealer {
  seal(plain: string): string;
}

const toInstance = (r: { id: string; title: string; connection_url: string }): Instance => ({
  id: r.id,
  title: r.title,
  engine: "POSTGRES",
  connectionUrl: r.connection_url,
});

/** Creates an instance (its URL sealed) attached to `projectIds` (all must exist). */
export async function instanceCreate(
  db: Db,
  p: { id: string; title: string; connectionUrl: string; projectIds?: string[] },
  box: Sealer,
): Promise<Instance> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto("instance")
      .values({ id: p.id, title: p.title, connection_url: box.seal(p.connectionUrl) })
      .onConflict((oc) => oc.column("id").doNothing())
      .returning(["id", "title", "connection_url"])
      .executeTakeFirst();
    if (!row) throw new StoreError("CONFLICT", `instance "${p.id}" already exists`);
    for (const projectId of p.projectIds ?? []) await attach(trx, projectId, p.id);
    await listNow(trx, p.id);
    return toInstance(row);
  });
}

/**
 * Has the listing loops list the instance's databases now (sent at commit): its groups and release plans
 * otherwise named none of them until the next round, up to a minute after it was added.
 */
async function listNow(trx: Db, id: string): Promise<void> {
  await sql`SELECT pg_notify(${Channel.INSTANCES}, ${id})`.execute(trx);
}

/** Changes title and/or connection URL (sealed). */
export async function instanceUpdate(
  db: Db,
  id: string,
  patch: { title?: string; connectionUrl?: string },
  box: Sealer,
): Promise<Instance> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable("instance")
      .set({
        ...(patch.title !== undefined ? { title: patch.title } : {}),
        ...(patch.connectionUrl !== undefined ? { connection_url: box.seal(patch.connectionUrl) } : {}),
      })
      .where("id", "=", id)
      .where("deleted", "=", false)
      .returning(["id", "title", "connection_url"])
      .executeTakeFirst();
    if (!row) throw new StoreError("NOT_FOUND", `instance "${id}" not found`);
    if (patch.connectionUrl !== undefined) {
      // The databases listed were another server's, perhaps: due for listing at once, and listed now.
      await trx.deleteFrom("instance_database_listing").where("instance_id", "=", id).execute();
      await listNow(trx, id);
    }
    return toInstance(row);
  });
}

export async function instanceGet(db: Db, id: string): Promise<Instance | undefined> {
  const row = await db
    .selectFrom("instance")
    .select(["id", "title", "connection_url"])
    .where("id", "=", id)
    .where("deleted", "=", false)
    .executeTakeFirst();
  return row && toInstance(row);
}

/** Every instance, or only those attached to `projectId`. */
export async function instanceList(db: Db, p: { projectId?: string } = {}): Promise<Instance[]> {
  let q = db.selectFrom("instance").select(["id", "title", "connection_url"]).where("deleted", "=", false);
  if (p.projectId !== undefined) {
    const projectId = p.projectId;
    q = q.where("id", "in", (s) => s.selectFrom("project_instance").select("instance_id").where("project_id", "=", projectId));
  }
  return (await q.orderBy("id").execute()).map(toInstance);
}

/** Soft delete: the pending scheduler fails PENDING runs on this instance with a clear result. */
export async function instanceDelete(db: Db, id: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable("instance")
      .set({ deleted: true })
      .where("id", "=", id)
      .where("deleted", "=", false)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new StoreError("NOT_FOUND", `instance "${id}" not found`);
    await gatingRequestFullPass(trx);
    await notifyPending(trx);
  });
}

async function attach(db: Db, projectId: string, instanceId: string): Promise<void> {
  const { rows } = await sql<{ project: boolean; instance: boolean }>`
    SELECT EXISTS (SELECT 1 FROM project WHERE id = ${projectId} AND NOT deleted) AS project,
      EXISTS (SELECT 1 FROM instance WHERE id = ${instanceId} AND NOT deleted) AS instance`.execute(db);
  if (!rows[0]!.project) throw new StoreError("NOT_FOUND", `project "${projectId}" not found`);
  if (!rows[0]!.instance) throw new StoreError("NOT_FOUND", `instance "${instanceId}" not found`);
  await db
    .insertInto("project_instance")
    .values({ project_id: projectId, instance_id: instanceId })
    .onConflict((oc) => oc.columns(["project_id", "instance_id"]).doNothing())
    .execute();
}

/** Lets the project's tasks name the instance (idempotent). */
export async function projectInstanceAttach(db: Db, p: { projectId: string; instanceId: string }): Promise<void> {
  await attach(db, p.projectId, p.instanceId);
}

/** New tasks of the project may no longer name the instance; existing tasks keep their runs. */
export async function projectInstanceDetach(db: Db, p: { projectId: string; instanceId: string }): Promise<void> {
  const res = await db
    .deleteFrom("project_instance")
    .where("project_id", "=", p.projectId)
    .where("instance_id", "=", p.instanceId)
    .executeTakeFirst();
  if (Number(res.numDeletedRows) === 0)
    throw new StoreError("NOT_FOUND", `instance "${p.instanceId}" is not attached to project "${p.projectId}"`);
}

/**
 * A task may only name an instance attached to its rollout's project: INVALID_ARGUMENT naming the first
 * task that does not (called by rolloutCreate inside its transaction).
 */
export async function instancesAttachedOrThrow(db: Db, projectId: string, stages: { tasks: { instanceId: string }[] }[]): Promise<void> {
  const ids = [...new Set(stages.flatMap((s) => s.tasks.map((t) => t.instanceId)))];
  if (ids.length === 0) return;
  const rows = await db
    .selectFrom("project_instance")
    .select("instance_id")
    .where("project_id", "=", projectId)
    .where("instance_id", "in", ids)
    .execute();
  const attached = new Set(rows.map((r) => r.instance_id));
  const bad = ids.filter((id) => !attached.has(id));
  if (bad.length === 0) return;
  const tasks = stages.flatMap((s, i) => s.tasks.map((t, j) => ({ path: `stages/${i}/tasks/${j}`, instanceId: t.instanceId })));
  const first = tasks.find((t) => !attached.has(t.instanceId))!;
  throw new StoreError(
    "INVALID_ARGUMENT",
    `${first.path} names instance "${first.instanceId}", which is not attached to project "${projectId}"` +
      (bad.length > 1 ? ` (nor are ${bad.filter((b) => b !== first.instanceId).join(", ")})` : ""),
    { task: first.path, instanceIds: bad },
  );
}

/** Instances attached only to projects in `hiddenProjectIds` (a user with `none` there does not see them). */
export async function instancesOnlyIn(db: Db, hiddenProjectIds: string[]): Promise<Set<string>> {
  if (hiddenProjectIds.length === 0) return new Set();
  const { rows } = await sql<{ instance_id: string }>`
    SELECT instance_id FROM project_instance GROUP BY instance_id HAVING bool_and(project_id = ANY(${hiddenProjectIds}::text[]))`.execute(
    db,
  );
  return new Set(rows.map((r) => r.instance_id));
}
