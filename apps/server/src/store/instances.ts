import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { gatingRequestFullPass } from "./gating.js";
import { notifyPending } from "./notify.js";

export interface Instance {
  id: string;
  title: string;
  engine: "POSTGRES";
  connectionUrl: string;
}

const toInstance = (r: { id: string; title: string; connection_url: string }): Instance => ({
  id: r.id,
  title: r.title,
  engine: "POSTGRES",
  connectionUrl: r.connection_url,
});

export async function instanceCreate(db: Db, p: Omit<Instance, "engine">): Promise<Instance> {
  const row = await db
    .insertInto("instance")
    .values({ id: p.id, title: p.title, connection_url: p.connectionUrl })
    .onConflict((oc) => oc.column("id").doNothing())
    .returning(["id", "title", "connection_url"])
    .executeTakeFirst();
  if (!row) throw new StoreError("CONFLICT", `instance "${p.id}" already exists`);
  return toInstance(row);
}

export async function instanceGet(db: Db, id: string): Promise<Instance | undefined> {
  const row = await db.selectFrom("instance").select(["id", "title", "connection_url"]).where("id", "=", id)
    .where("deleted", "=", false).executeTakeFirst();
  return row && toInstance(row);
}

export async function instanceList(db: Db): Promise<Instance[]> {
  const rows = await db.selectFrom("instance").select(["id", "title", "connection_url"]).where("deleted", "=", false)
    .orderBy("id").execute();
  return rows.map(toInstance);
}

/** Soft delete: the pending scheduler fails PENDING runs on this instance with a clear result. */
export async function instanceDelete(db: Db, id: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const res = await trx.updateTable("instance").set({ deleted: true }).where("id", "=", id).where("deleted", "=", false).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new StoreError("NOT_FOUND", `instance "${id}" not found`);
    await gatingRequestFullPass(trx);
    await notifyPending(trx);
  });
}
