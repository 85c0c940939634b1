import type { Db } from "./db.js";

export interface AuditEntry {
  id: string;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  detail: unknown;
}

export async function auditAppend(
  db: Db,
  e: { at: Date; actor: string | null; action: string; target: string | null; outcome: string; detail: unknown },
): Promise<void> {
  await db
    .insertInto("audit_log")
    .values({ at: e.at, actor: e.actor, action: e.action, target: e.target, outcome: e.outcome, detail: JSON.stringify(e.detail ?? null) })
    .execute();
}

/** Newest first, keyset-paged by id (the `audit_log_at_idx` index). */
export async function auditList(
  db: Db,
  p: { limit: number; beforeId: string | null; actor?: string; action?: string },
): Promise<{ entries: AuditEntry[]; more: boolean }> {
  let q = db.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(p.limit + 1);
  if (p.beforeId !== null) q = q.where("id", "<", p.beforeId);
  if (p.actor !== undefined) q = q.where("actor", "=", p.actor);
  if (p.action !== undefined) q = q.where("action", "=", p.action);
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
    })),
  };
}
