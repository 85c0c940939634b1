import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import type { ReleaseFile } from "../domain/release-files.js";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";

export interface Release {
  id: string;
  projectId: string;
  title: string;
  contentHash: string;
  createdBy: string;
  createdAt: Date;
  fileCount: number;
}

export interface ReleaseWithFiles extends Release {
  files: ReleaseFile[];
}

type Row = {
  id: string;
  project_id: string;
  title: string;
  content_hash: string;
  created_by: string;
  created_at: Date;
  file_count: number;
};
const toRelease = (r: Row): Release => ({
  id: r.id,
  projectId: r.project_id,
  title: r.title,
  contentHash: r.content_hash,
  createdBy: r.created_by,
  createdAt: r.created_at,
  fileCount: Number(r.file_count),
});

/**
 * Stores a release and its files in one transaction. The same files uploaded again to the project (same
 * content hash) are the release already stored: `created` is false and nothing is written.
 */
export async function releaseCreate(
  db: Db,
  p: { projectId: string; title: string; createdBy: string; contentHash: string; files: ReleaseFile[] },
  now: Date,
): Promise<{ release: Release; created: boolean }> {
  return db.transaction().execute(async (trx) => {
    const project = await trx
      .selectFrom("project")
      .select("id")
      .where("id", "=", p.projectId)
      .where("deleted", "=", false)
      .executeTakeFirst();
    if (!project) throw new StoreError("NOT_FOUND", `project "${p.projectId}" not found`);
    const row = await trx
      .insertInto("release")
      .values({ project_id: p.projectId, title: p.title, content_hash: p.contentHash, created_by: p.createdBy, created_at: now })
      .onConflict((oc) => oc.columns(["project_id", "content_hash"]).doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!row) {
      const existing = await releaseGetIn(trx, { projectId: p.projectId, contentHash: p.contentHash });
      return { release: existing!, created: false };
    }
    const f = p.files;
    await sql`
      INSERT INTO release_file (release_id, position, name, version, description, type, statement, sha256)
      SELECT ${row.id}, o - 1, n, v, d, t, s, h
      FROM unnest(${f.map((x) => x.name)}::text[], ${f.map((x) => x.version)}::text[], ${f.map((x) => x.description)}::text[],
        ${f.map((x) => x.type)}::text[], ${f.map((x) => x.statement)}::text[], ${f.map((x) => x.sha256)}::text[])
        WITH ORDINALITY AS x(n, v, d, t, s, h, o)`.execute(trx);
    return { release: (await releaseGetIn(trx, { id: row.id }))!, created: true };
  });
}

async function releaseGetIn(db: Db, p: { id?: string; projectId?: string; contentHash?: string }): Promise<Release | undefined> {
  let q = db
    .selectFrom("release as r")
    .select(["r.id", "r.project_id", "r.title", "r.content_hash", "r.created_by", "r.created_at"])
    .select((eb) =>
      eb.selectFrom("release_file as f").whereRef("f.release_id", "=", "r.id").select(eb.fn.countAll<number>().as("n")).as("file_count"),
    );
  if (p.id !== undefined) q = q.where("r.id", "=", p.id);
  if (p.projectId !== undefined) q = q.where("r.project_id", "=", p.projectId);
  if (p.contentHash !== undefined) q = q.where("r.content_hash", "=", p.contentHash);
  const row = await q.executeTakeFirst();
  return row && toRelease(row as Row);
}

/** A project's releases, newest first (keyset page on id). */
export async function releaseList(
  db: Db,
  p: { projectId: string; limit: number; beforeId?: string },
): Promise<{ releases: Release[]; more: boolean }> {
  let q = db
    .selectFrom("release as r")
    .select(["r.id", "r.project_id", "r.title", "r.content_hash", "r.created_by", "r.created_at"])
    .select((eb) =>
      eb.selectFrom("release_file as f").whereRef("f.release_id", "=", "r.id").select(eb.fn.countAll<number>().as("n")).as("file_count"),
    )
    .where("r.project_id", "=", p.projectId);
  if (p.beforeId !== undefined) q = q.where("r.id", "<", p.beforeId);
  const rows = await q
    .orderBy("r.id", "desc")
    .limit(p.limit + 1)
    .execute();
  return { releases: rows.slice(0, p.limit).map((r) => toRelease(r as Row)), more: rows.length > p.limit };
}

/** A release with its files in apply order. */
export async function releaseGet(db: Db, id: string): Promise<ReleaseWithFiles | undefined> {
  const release = await releaseGetIn(db, { id });
  if (!release) return undefined;
  const files = await db
    .selectFrom("release_file")
    .select(["name", "version", "description", "type", "statement", "sha256"])
    .where("release_id", "=", id)
    .orderBy("position")
    .execute();
  return { ...release, files: files.map((f) => ({ ...f, type: f.type as TaskType })) };
}
