import { sql } from "kysely";
import type { Db } from "./db.js";
import { likePattern } from "./task-filter.js";

export interface AuditEntry {
  id: string;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  detail: unknown;
  clientAddress: string | null;
}

/** The outcome an entry has from the moment a request starts acting until it answers. */
export const AUDIT_IN_PROGRESS = "IN_PROGRESS";

interface Fields {
  actor: string | null;
  target: string | null;
  outcome: string;
  detail: unknown;
}

/** One complete entry (requests refused before they acted: denials). */
export async function auditAppend(db: Db, e: Fields & { at: Date; action: string; clientAddress: string | null }): Promise<void> {
  await db
    .insertInto("audit_log")
    .values({
      at: e.at,
      actor: e.actor,
      action: e.action,
      target: e.target,
      outcome: e.outcome,
      detail: JSON.stringify(e.detail ?? null),
      client_addr: e.clientAddress,
    })
    .execute();
}

/** The entry of a request about to act, with outcome IN_PROGRESS; its id for auditFinish. */
export async function auditBegin(
  db: Db,
  e: { at: Date; action: string; actor: string | null; target: string | null; clientAddress: string | null },
): Promise<string> {
  const row = await db
    .insertInto("audit_log")
    .values({
      at: e.at,
      actor: e.actor,
      action: e.action,
      target: e.target,
      outcome: AUDIT_IN_PROGRESS,
      detail: null,
      client_addr: e.clientAddress,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Records how the request ended. False when the entry was not there to update. */
export async function auditFinish(db: Db, id: string, e: Fields): Promise<boolean> {
  const res = await db
    .updateTable("audit_log")
    .set({ actor: e.actor, target: e.target, outcome: e.outcome, detail: JSON.stringify(e.detail ?? null) })
    .where("id", "=", id)
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/** Newest first, keyset-paged by id (the `audit_log_at_idx` index), narrowed by actor, action, outcome and a search. */
export async function auditList(
  db: Db,
  p: { limit: number; beforeId: string | null; actor?: string; action?: string; outcome?: string; q?: string },
): Promise<{ entries: AuditEntry[]; more: boolean }> {
  let q = db
    .selectFrom("audit_log")
    .selectAll()
    .orderBy("id", "desc")
    .limit(p.limit + 1);
  if (p.beforeId !== null) q = q.where("id", "<", p.beforeId);
  if (p.actor !== undefined) q = q.where("actor", "=", p.actor);
  if (p.action !== undefined) q = q.where("action", "=", p.action);
  if (p.outcome !== undefined) q = q.where("outcome", "=", p.outcome);
  const search = p.q?.trim();
  if (search) {
    // Walks the log newest first and stops at a page of matches; the admin page asks for small pages.
    const like = likePattern(search);
    q = q.where(
      sql<boolean>`(actor ILIKE ${like} OR action ILIKE ${like} OR target ILIKE ${like} OR outcome ILIKE ${like} OR client_addr ILIKE ${like})`,
    );
  }
  const rows = await q.execute();
  return {
    more: rows.length > p.limit,
    entries: rows.slice(0, p.limit).map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      actor: r.actor,
      action: r.action,
      target: r.target,
      outcome: r.outcome,
      detail: r.detail,
      clientAddress: r.client_addr,
    })),
  };
}
