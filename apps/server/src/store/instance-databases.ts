import { sql } from "kysely";
import type { Db } from "./db.js";

export interface InstanceDatabases {
  instanceId: string;
  databases: string[];
  /** When the list was last read from the target; null: never. */
  listedAt: Date | null;
  /** The last attempt, and its error when it failed (the list then is the previous one). */
  attemptedAt: Date | null;
  error: string | null;
}

/**
 * Stores a listing taken at `now`. Compare-and-set on the listing's time: a listing older than the stored
 * one (two replicas refreshing at once, one slow) changes nothing. Returns whether it was stored.
 */
export async function instanceDatabasesReplace(db: Db, p: { instanceId: string; names: string[]; now: Date }): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ instance_id: string }>`
      INSERT INTO instance_database_listing AS l (instance_id, listed_at, attempted_at, error)
      SELECT id, ${p.now}, ${p.now}, NULL FROM instance WHERE id = ${p.instanceId} AND NOT deleted
      ON CONFLICT (instance_id) DO UPDATE SET listed_at = excluded.listed_at, attempted_at = excluded.attempted_at, error = NULL
        WHERE l.listed_at IS NULL OR l.listed_at <= excluded.listed_at
      RETURNING instance_id`.execute(trx);
    if (rows.length === 0) return false;
    await sql`DELETE FROM instance_database WHERE instance_id = ${p.instanceId} AND NOT (name = ANY(${p.names}::text[]))`.execute(trx);
    await sql`
      INSERT INTO instance_database (instance_id, name, seen_at)
      SELECT ${p.instanceId}, n, ${p.now} FROM unnest(${p.names}::text[]) AS n
      ON CONFLICT (instance_id, name) DO UPDATE SET seen_at = excluded.seen_at`.execute(trx);
    return true;
  });
}

/** Records a failed listing; the stored list stays as it was. */
export async function instanceDatabasesFailed(db: Db, p: { instanceId: string; error: string; now: Date }): Promise<void> {
  await sql`
    INSERT INTO instance_database_listing AS l (instance_id, listed_at, attempted_at, error)
    SELECT id, NULL, ${p.now}, ${p.error.slice(0, 2000)} FROM instance WHERE id = ${p.instanceId} AND NOT deleted
    ON CONFLICT (instance_id) DO UPDATE SET attempted_at = excluded.attempted_at, error = excluded.error
      WHERE l.attempted_at <= excluded.attempted_at`.execute(db);
}

export async function instanceDatabasesGet(db: Db, instanceId: string): Promise<InstanceDatabases> {
  const [names, listing] = await Promise.all([
    db.selectFrom("instance_database").select("name").where("instance_id", "=", instanceId).orderBy("name").execute(),
    db.selectFrom("instance_database_listing").selectAll().where("instance_id", "=", instanceId).executeTakeFirst(),
  ]);
  return {
    instanceId,
    databases: names.map((n) => n.name),
    listedAt: listing?.listed_at ?? null,
    attemptedAt: listing?.attempted_at ?? null,
    error: listing?.error ?? null,
  };
}

/** The instances among `ids` (not deleted), to list whatever their last listing: see instancesDueForListing. */
export async function instancesToList(db: Db, ids: readonly string[]): Promise<{ id: string; connectionUrl: string }[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ id: string; connection_url: string }>`
    SELECT id, connection_url FROM instance WHERE id = ANY(${ids}::text[]) AND NOT deleted ORDER BY id`.execute(db);
  return rows.map((r) => ({ id: r.id, connectionUrl: r.connection_url }));
}

/** Instances whose last listing attempt is older than `olderThanMs` (or that were never listed), oldest first. */
export async function instancesDueForListing(
  db: Db,
  p: { now: Date; olderThanMs: number; limit: number },
): Promise<{ id: string; connectionUrl: string }[]> {
  const { rows } = await sql<{ id: string; connection_url: string }>`
    SELECT i.id, i.connection_url FROM instance i LEFT JOIN instance_database_listing l ON l.instance_id = i.id
    WHERE NOT i.deleted AND (l.attempted_at IS NULL OR l.attempted_at < ${p.now}::timestamptz - make_interval(secs => ${p.olderThanMs / 1000}))
    ORDER BY l.attempted_at NULLS FIRST, i.id LIMIT ${p.limit}`.execute(db);
  return rows.map((r) => ({ id: r.id, connectionUrl: r.connection_url }));
}
