import { sql, type RawBuilder } from "kysely";
import type { WebhookAttempt, WebhookKind } from "@runway/shared/schemas";
import type { EventFacts } from "../domain/webhooks.js";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyDue } from "./webhook-events.js";

/**
 * Delivering the outbox. A delivery is due while PENDING and `next_attempt_at` has passed. Claiming one
 * (SKIP LOCKED, so replicas claim side by side) leases it: `next_attempt_at` moves to the lease's end and
 * the epoch goes up, so a replica killed mid-attempt leaves a delivery that is due again when its lease
 * ends, and its late answer cannot overwrite the next owner's (the outcome is fenced by owner + epoch).
 */

export interface ClaimedDelivery {
  id: string;
  epoch: number;
  /** Attempts so far, this one included. */
  attempts: number;
  retrySince: Date;
  webhook: { id: string; url: string; kind: WebhookKind; sealedSecret: string | null };
  event: EventFacts;
}

/** The event with everything its message names (rollout title, stage, task's database), as JSON. */
const eventJson = (e: RawBuilder<unknown>) => sql`json_build_object(
    'uid', ${e}.uid::text, 'kind', ${e}.kind, 'occurredAt', ${e}.created_at, 'projectId', ${e}.project_id, 'runId', ${e}.run_id::text,
    'facts', ${e}.facts,
    'rollout', (SELECT json_build_object('id', ro.id::text, 'title', ro.title) FROM rollout ro WHERE ro.id = ${e}.rollout_id),
    'stage', (SELECT json_build_object('id', s.id::text, 'environment', s.environment) FROM stage s WHERE s.id = ${e}.stage_id),
    'task', (SELECT json_build_object('id', t.id::text, 'instanceId', t.instance_id, 'database', t.database_name) FROM task t WHERE t.id = ${e}.task_id))`;

interface EventJson extends Omit<EventFacts, "occurredAt"> {
  occurredAt: string;
}
const toFacts = (e: EventJson): EventFacts => ({ ...e, occurredAt: new Date(e.occurredAt) });

export interface DeliveryClaimParams {
  replicaId: string;
  now: Date;
  /** At most this many in all… */
  limit: number;
  /** …and per webhook, at most this many more than `busy` says this replica already has in flight. */
  perWebhook: number;
  busy: ReadonlyMap<string, number>;
  leaseMs: number;
}

/** Claims due deliveries of enabled webhooks, oldest due first, keeping each webhook under its bound. */
export async function webhookDeliveriesClaim(db: Db, p: DeliveryClaimParams): Promise<ClaimedDelivery[]> {
  if (p.limit <= 0) return [];
  const full = [...p.busy].filter(([, n]) => n >= p.perWebhook).map(([id]) => id);
  const busyIds = [...p.busy.keys()];
  const { rows } = await sql<{ claimed: (Omit<ClaimedDelivery, "event" | "retrySince"> & { event: EventJson; retrySince: string })[] }>`
    WITH due AS MATERIALIZED (
      SELECT d.id, d.webhook_id, d.next_attempt_at FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id
      WHERE d.state = 'PENDING' AND d.next_attempt_at <= ${p.now} AND w.enabled AND NOT w.deleted
        AND NOT (d.webhook_id = ANY (${full}::bigint[]))
      ORDER BY d.next_attempt_at, d.id LIMIT ${p.limit * 4}
      FOR UPDATE OF d SKIP LOCKED
    ), busy AS (
      SELECT * FROM unnest(${busyIds}::bigint[], ${busyIds.map((id) => p.busy.get(id)!)}::int[]) AS b(webhook_id, n)
    ), pick AS (
      SELECT x.id FROM (
        SELECT due.*, row_number() OVER (PARTITION BY due.webhook_id ORDER BY due.next_attempt_at, due.id) AS rn FROM due) x
      LEFT JOIN busy b ON b.webhook_id = x.webhook_id
      WHERE x.rn <= ${p.perWebhook} - coalesce(b.n, 0)
      ORDER BY x.next_attempt_at, x.id LIMIT ${p.limit}
    ), upd AS (
      UPDATE webhook_delivery d SET lease_owner = ${p.replicaId}, lease_epoch = d.lease_epoch + 1, attempts = d.attempts + 1,
        next_attempt_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseMs / 1000}),
        lease_expires_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseMs / 1000})
      FROM pick WHERE d.id = pick.id AND d.state = 'PENDING'
      RETURNING d.*
    )
    SELECT coalesce(json_agg(json_build_object('id', upd.id::text, 'epoch', upd.lease_epoch, 'attempts', upd.attempts,
      'retrySince', upd.retry_since,
      'webhook', json_build_object('id', w.id::text, 'url', w.url, 'kind', w.kind, 'sealedSecret', w.secret),
      'event', ${eventJson(sql`e`)}) ORDER BY upd.id), '[]') AS claimed
    FROM upd JOIN webhook w ON w.id = upd.webhook_id JOIN webhook_event e ON e.id = upd.event_id`.execute(db);
  return rows[0]!.claimed.map((c) => ({ ...c, retrySince: new Date(c.retrySince), event: toFacts(c.event) }));
}

export interface DeliveryOutcome {
  id: string;
  replicaId: string;
  epoch: number;
  at: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  ok: boolean;
  /** Failed: when to try again, or null to give up. */
  retryAt: Date | null;
}

/**
 * Records an attempt (always: it happened) and, fenced by owner + epoch, the delivery's new state.
 * False when the lease was lost meanwhile (another replica owns the delivery now).
 */
export async function webhookDeliveryFinish(db: Db, o: DeliveryOutcome): Promise<boolean> {
  const state = o.ok ? "DELIVERED" : o.retryAt ? "PENDING" : "GAVE_UP";
  const { rows } = await sql<{ written: string }>`
    WITH upd AS (
      UPDATE webhook_delivery d SET state = ${state}, lease_owner = NULL, lease_expires_at = NULL,
        next_attempt_at = coalesce(${o.retryAt}::timestamptz, d.next_attempt_at),
        delivered_at = CASE WHEN ${o.ok} THEN ${o.at}::timestamptz END
      WHERE d.id = ${o.id} AND d.state = 'PENDING' AND d.lease_owner = ${o.replicaId} AND d.lease_epoch = ${o.epoch}
      RETURNING d.id
    ), att AS (
      INSERT INTO webhook_attempt (delivery_id, at, replica_id, status_code, duration_ms, error, ok)
      VALUES (${o.id}, ${o.at}, ${o.replicaId}, ${o.statusCode}, ${Math.round(o.durationMs)}, ${o.error}, ${o.ok})
    )
    SELECT count(*) AS written FROM upd`.execute(db);
  return Number(rows[0]!.written) === 1;
}

export interface DeliveryRow {
  id: string;
  state: "PENDING" | "DELIVERED" | "GAVE_UP";
  attempts: number;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
  event: EventFacts;
  lastAttempts: WebhookAttempt[];
}

/** The newest deliveries of a webhook with their last five attempts (the dashboard's delivery log). */
export async function webhookDeliveryList(db: Db, p: { webhookId: string; limit: number }): Promise<DeliveryRow[]> {
  const { rows } = await sql<{
    id: string;
    state: DeliveryRow["state"];
    attempts: number;
    next_attempt_at: Date;
    delivered_at: Date | null;
    created_at: Date;
    event: EventJson;
    last: WebhookAttempt[];
  }>`
    SELECT d.id, d.state, d.attempts, d.next_attempt_at, d.delivered_at, d.created_at, ${eventJson(sql`e`)} AS event,
      (SELECT coalesce(json_agg(json_build_object('at', a.at, 'replicaId', a.replica_id, 'statusCode', a.status_code,
        'durationMs', a.duration_ms, 'error', a.error, 'ok', a.ok) ORDER BY a.id DESC), '[]')
       FROM (SELECT * FROM webhook_attempt a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 5) a) AS last
    FROM webhook_delivery d JOIN webhook_event e ON e.id = d.event_id
    WHERE d.webhook_id = ${p.webhookId}
    ORDER BY d.id DESC LIMIT ${p.limit}`.execute(db);
  return rows.map((r) => ({
    id: r.id,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.state === "PENDING" ? r.next_attempt_at : null,
    deliveredAt: r.delivered_at,
    createdAt: r.created_at,
    event: toFacts(r.event),
    lastAttempts: r.last.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
  }));
}

/**
 * Sends a delivery again (same event id, so a receiver that de-duplicates shows it once): due now, with a
 * fresh 24 h retry window. A delivery being attempted right now is left to that attempt.
 */
export async function webhookRedeliver(db: Db, p: { webhookId: string; deliveryId: string; now: Date }): Promise<void> {
  const { rows } = await sql<{ found: boolean; changed: string }>`
    WITH d AS (SELECT id, state, next_attempt_at, lease_owner FROM webhook_delivery WHERE id = ${p.deliveryId} AND webhook_id = ${p.webhookId}),
    upd AS (
      UPDATE webhook_delivery x SET state = 'PENDING', next_attempt_at = ${p.now}, retry_since = ${p.now}, lease_owner = NULL, lease_expires_at = NULL
      FROM d WHERE x.id = d.id AND NOT (d.state = 'PENDING' AND d.lease_owner IS NOT NULL AND d.next_attempt_at > ${p.now})
      RETURNING x.id
    )
    SELECT EXISTS (SELECT 1 FROM d) AS found, (SELECT count(*) FROM upd) AS changed, ${notifyDue(sql`upd`)} AS notified`.execute(db);
  if (!rows[0]?.found) throw new StoreError("NOT_FOUND", `delivery ${p.deliveryId} not found`);
}
