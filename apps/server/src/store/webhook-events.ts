import { sql, type RawBuilder } from "kysely";
import type { WebhookEventKind } from "@runway/shared/schemas";
import { Channel, type Db } from "./db.js";

/**
 * The webhook outbox: an event row, and one delivery row per webhook that wants it, written by the same
 * transaction as the state change that caused the event — so a change that rolls back sends nothing, and
 * one that commits is delivered by whichever replica claims it (store/webhook-deliveries.ts). Nothing is
 * written when no enabled webhook of the project wants the kind: events exist only to be delivered.
 */

/** SQL: the enabled webhooks of `project` that want `kind`. */
export const wanting = (project: RawBuilder<unknown>, kind: RawBuilder<unknown>) =>
  sql`SELECT w.id FROM webhook w WHERE w.project_id = ${project} AND w.enabled AND NOT w.deleted AND ${kind} = ANY (w.events)`;

export interface RecordEvent {
  kind: WebhookEventKind;
  rolloutId: string;
  stageId?: string | null;
  taskId?: string | null;
  runId?: string | null;
  /** What the message quotes: `{reason, by}` for ROLLOUT_PAUSED, `{error}` for failures… */
  facts?: Record<string, unknown>;
  /** Events that must be recorded once carry a key (a second record with it is a no-op). */
  dedupeKey?: string;
  now: Date;
}

/**
 * Records an event in the caller's transaction (pass the transaction, never the pool: the event must
 * commit or roll back with the change it reports). The pause records its event so (store/gates.ts):
 *
 *     await recordEvent(trx, { kind: "ROLLOUT_PAUSED", rolloutId, facts: { by: "alice", reason: "circuit breaker" }, now });
 *
 * (STAGE_APPROVAL_WAITING comes from the pending pass, several stages in one statement: webhook-approvals.ts.)
 *
 * Returns the event's id, or null when no webhook wants it (or the dedupe key was recorded before).
 */
export async function recordEvent(trx: Db, e: RecordEvent): Promise<string | null> {
  const { rows } = await sql<{ id: string | null }>`
    WITH ev AS (
      INSERT INTO webhook_event (project_id, kind, rollout_id, stage_id, task_id, run_id, facts, dedupe_key, created_at)
      SELECT ro.project_id, ${e.kind}, ro.id, ${e.stageId ?? null}::bigint, ${e.taskId ?? null}::bigint, ${e.runId ?? null}::bigint,
        ${JSON.stringify(e.facts ?? {})}::jsonb, ${e.dedupeKey ?? null}, ${e.now}
      FROM rollout ro WHERE ro.id = ${e.rolloutId} AND EXISTS (${wanting(sql`ro.project_id`, sql`${e.kind}::text`)})
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id, project_id, kind
    ), del AS (
      INSERT INTO webhook_delivery (event_id, webhook_id, next_attempt_at, created_at, retry_since)
      SELECT ev.id, w.id, ${e.now}, ${e.now}, ${e.now} FROM ev JOIN LATERAL (${wanting(sql`ev.project_id`, sql`ev.kind`)}) w ON true
      RETURNING 1
    )
    SELECT (SELECT id::text FROM ev) AS id, ${notifyDue(sql`del`)} AS notified`.execute(trx);
  return rows[0]?.id ?? null;
}

/** SQL for a statement's select list: wakes the delivery loops once when `rel` has rows. */
export const notifyDue = (rel: RawBuilder<unknown>) =>
  sql`(SELECT count(pg_notify(${Channel.WEBHOOK}, '')) FROM (SELECT 1 FROM ${rel} LIMIT 1) x)`;

/**
 * CTEs for the transition statement (transitions/builder.ts): a TASK_RUN_FAILED event for every run in
 * `ch` that became FAILED, quoting its reason (the PostgreSQL error), with its deliveries. Names made
 * here: hook_failed_event, hook_failed_delivery (select the latter with notifyDue).
 */
export function failedRunEventCtes(ch: RawBuilder<unknown>, now: Date): RawBuilder<unknown> {
  return sql`hook_failed_event AS (
      INSERT INTO webhook_event (project_id, kind, rollout_id, stage_id, task_id, run_id, facts, created_at)
      SELECT ro.project_id, 'TASK_RUN_FAILED', ch.rollout_id, t.stage_id, ch.task_id, ch.id, jsonb_build_object('error', ch.reason), ${now}
      FROM ${ch} ch JOIN task t ON t.id = ch.task_id JOIN rollout ro ON ro.id = ch.rollout_id
      WHERE ch.status = 'FAILED' AND EXISTS (${wanting(sql`ro.project_id`, sql`'TASK_RUN_FAILED'::text`)})
      RETURNING id, project_id, kind
    ), hook_failed_delivery AS (
      INSERT INTO webhook_delivery (event_id, webhook_id, next_attempt_at, created_at, retry_since)
      SELECT ev.id, w.id, ${now}, ${now}, ${now} FROM hook_failed_event ev JOIN LATERAL (${wanting(sql`ev.project_id`, sql`ev.kind`)}) w ON true
      RETURNING 1
    )`;
}

/** A TEST event for one webhook only (the "send test event" button). Returns the event id. */
export async function recordTestEvent(db: Db, p: { projectId: string; webhookId: string; by: string; now: Date }): Promise<string | null> {
  const { rows } = await sql<{ id: string | null }>`
    WITH w AS (SELECT id, project_id FROM webhook WHERE id = ${p.webhookId} AND project_id = ${p.projectId} AND NOT deleted),
    ev AS (
      INSERT INTO webhook_event (project_id, kind, facts, created_at)
      SELECT w.project_id, 'TEST', jsonb_build_object('by', ${p.by}::text), ${p.now} FROM w RETURNING id
    ), del AS (
      INSERT INTO webhook_delivery (event_id, webhook_id, next_attempt_at, created_at, retry_since)
      SELECT ev.id, w.id, ${p.now}, ${p.now}, ${p.now} FROM ev, w RETURNING 1
    )
    SELECT (SELECT id::text FROM ev) AS id, ${notifyDue(sql`del`)} AS notified`.execute(db);
  return rows[0]?.id ?? null;
}

/**
 * RUN_WAITING_LONG, sampled: remembers since when each PENDING run of a project with such a webhook has
 * waited on its current cause (a new cause restarts the clock), forgets runs that stopped waiting, and
 * records one event per (run, cause, since) once the wait passes the webhook's threshold. Idempotent, so
 * every replica may run it; the dedupe key keeps a wait reported once. Returns the events recorded.
 */
export async function longWaitsRecord(db: Db, p: { now: Date }): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const watched = sql`SELECT DISTINCT project_id FROM webhook WHERE enabled AND NOT deleted AND 'RUN_WAITING_LONG' = ANY (events)`;
    await sql`
      DELETE FROM webhook_wait_seen s WHERE NOT EXISTS (
        SELECT 1 FROM run_wait w WHERE w.run_id = s.run_id AND w.type = s.type)`.execute(trx);
    await sql`
      INSERT INTO webhook_wait_seen (run_id, type, since)
      SELECT w.run_id, w.type, ${p.now} FROM run_wait w JOIN rollout ro ON ro.id = w.rollout_id
      WHERE ro.project_id IN (${watched})
      ON CONFLICT (run_id) DO UPDATE SET type = excluded.type, since = excluded.since WHERE webhook_wait_seen.type <> excluded.type`.execute(
      trx,
    );
    const { rows } = await sql<{ n: string }>`
      WITH due AS (
        SELECT s.run_id, s.type, s.since, r.rollout_id, r.task_id, t.stage_id, ro.project_id, w.id AS webhook_id,
          -- Per webhook: each is told when its own threshold passes, once per (run, cause, since).
          'RUN_WAITING_LONG:' || s.run_id || ':' || s.type || ':' || extract(epoch FROM s.since) || ':' || w.id AS key
        FROM webhook_wait_seen s JOIN task_run r ON r.id = s.run_id JOIN task t ON t.id = r.task_id JOIN rollout ro ON ro.id = r.rollout_id
        JOIN webhook w ON w.project_id = ro.project_id AND w.enabled AND NOT w.deleted AND 'RUN_WAITING_LONG' = ANY (w.events)
        WHERE s.since <= ${p.now}::timestamptz - make_interval(mins => w.wait_alert_minutes)
      ), ev AS (
        INSERT INTO webhook_event (project_id, kind, rollout_id, stage_id, task_id, run_id, facts, dedupe_key, created_at)
        SELECT project_id, 'RUN_WAITING_LONG', rollout_id, stage_id, task_id, run_id,
          jsonb_build_object('cause', type, 'since', since, 'minutes', floor(extract(epoch FROM ${p.now}::timestamptz - since) / 60)), key, ${p.now}
        FROM due
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id, dedupe_key
      ), del AS (
        INSERT INTO webhook_delivery (event_id, webhook_id, next_attempt_at, created_at, retry_since)
        SELECT ev.id, due.webhook_id, ${p.now}, ${p.now}, ${p.now} FROM ev JOIN due ON due.key = ev.dedupe_key
        RETURNING 1
      )
      SELECT count(*) AS n, ${notifyDue(sql`del`)} AS notified FROM ev`.execute(trx);
    return Number(rows[0]?.n ?? 0);
  });
}
