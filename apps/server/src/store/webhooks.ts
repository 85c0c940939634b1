import type { Webhook, WebhookCreate, WebhookKind, WebhookUpdate } from "@runway/shared/schemas";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import type { Sealer } from "./instances.js";

/** A project's webhooks (admin). The signing secret is stored sealed and never read back for display. */

interface Row {
  id: string;
  project_id: string;
  title: string;
  url: string;
  kind: string;
  events: string[];
  secret: string | null;
  wait_alert_minutes: number;
  enabled: boolean;
  created_by: string;
  created_at: Date;
}

const COLUMNS = [
  "id",
  "project_id",
  "title",
  "url",
  "kind",
  "events",
  "secret",
  "wait_alert_minutes",
  "enabled",
  "created_by",
  "created_at",
] as const;

const toWebhook = (r: Row): Webhook => ({
  id: r.id,
  projectId: r.project_id,
  title: r.title,
  url: r.url,
  kind: r.kind as WebhookKind,
  events: r.events as Webhook["events"],
  waitAlertMinutes: r.wait_alert_minutes,
  enabled: r.enabled,
  signed: r.secret !== null,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

export async function webhookList(db: Db, projectId: string): Promise<Webhook[]> {
  const rows = await db
    .selectFrom("webhook")
    .select(COLUMNS)
    .where("project_id", "=", projectId)
    .where("deleted", "=", false)
    .orderBy("id")
    .execute();
  return rows.map(toWebhook);
}

export async function webhookGet(db: Db, p: { projectId: string; webhookId: string }): Promise<Webhook> {
  const row = await db
    .selectFrom("webhook")
    .select(COLUMNS)
    .where("id", "=", p.webhookId)
    .where("project_id", "=", p.projectId)
    .where("deleted", "=", false)
    .executeTakeFirst();
  if (!row) throw new StoreError("NOT_FOUND", `webhook ${p.webhookId} not found in project "${p.projectId}"`);
  return toWebhook(row);
}

/** Creates a webhook; `secret` (plaintext, generic webhooks) is sealed with `box` before it is stored. */
export async function webhookCreate(
  db: Db,
  p: WebhookCreate & { projectId: string; secret: string | null; createdBy: string; now: Date },
  box: Sealer,
): Promise<Webhook> {
  const project = await db.selectFrom("project").select("id").where("id", "=", p.projectId).where("deleted", "=", false).executeTakeFirst();
  if (!project) throw new StoreError("NOT_FOUND", `project "${p.projectId}" not found`);
  const row = await db
    .insertInto("webhook")
    .values({
      project_id: p.projectId,
      title: p.title,
      url: p.url,
      kind: p.kind,
      events: p.events,
      secret: p.secret === null ? null : box.seal(p.secret),
      ...(p.waitAlertMinutes !== undefined ? { wait_alert_minutes: p.waitAlertMinutes } : {}),
      created_by: p.createdBy,
      created_at: p.now,
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toWebhook(row);
}

export async function webhookUpdate(db: Db, p: { projectId: string; webhookId: string; patch: WebhookUpdate }): Promise<Webhook> {
  const { patch } = p;
  const row = await db
    .updateTable("webhook")
    .set({
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.events !== undefined ? { events: patch.events } : {}),
      ...(patch.waitAlertMinutes !== undefined ? { wait_alert_minutes: patch.waitAlertMinutes } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    })
    .where("id", "=", p.webhookId)
    .where("project_id", "=", p.projectId)
    .where("deleted", "=", false)
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw new StoreError("NOT_FOUND", `webhook ${p.webhookId} not found in project "${p.projectId}"`);
  return toWebhook(row);
}

/** Soft delete: its delivery log stays; pending deliveries are no longer claimed. */
export async function webhookDelete(db: Db, p: { projectId: string; webhookId: string }): Promise<void> {
  const res = await db
    .updateTable("webhook")
    .set({ deleted: true, enabled: false })
    .where("id", "=", p.webhookId)
    .where("project_id", "=", p.projectId)
    .where("deleted", "=", false)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw new StoreError("NOT_FOUND", `webhook ${p.webhookId} not found in project "${p.projectId}"`);
}
