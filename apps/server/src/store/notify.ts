import { sql, type RawBuilder } from "kysely";
import { Channel, type Db } from "./db.js";

/** NOTIFY payloads are limited to 8000 bytes: ids go out in chunks of this many. */
const CHUNK = 200;

/**
 * Notifies the dashboards of every rollout in `rel` (a relation with a rollout_id column): one
 * notification for up to 200 rollouts, not one per rollout. An SQL expression, for a statement's select list.
 */
export function notifyChangeOf(rel: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(SELECT count(pg_notify(${Channel.CHANGE}, y.payload)) FROM (
      SELECT json_build_object('rolloutIds', json_agg(x.rollout_id::text))::text AS payload
      FROM (SELECT rollout_id, (row_number() OVER (ORDER BY rollout_id) - 1) / ${CHUNK} AS chunk FROM (SELECT DISTINCT rollout_id FROM ${rel}) d) x
      GROUP BY x.chunk) y)`;
}

/** One statement whatever the number of rollouts (none: a statement that notifies nobody). */
export async function notifyChange(trx: Db, rolloutIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(rolloutIds)];
  if (ids.length === 0) return;
  await sql`SELECT ${notifyChangeOf(sql`(SELECT unnest(${ids}::bigint[]) AS rollout_id) ids`)}`.execute(trx);
}

export async function notifyPending(trx: Db): Promise<void> {
  await sql`SELECT pg_notify(${Channel.PENDING}, '')`.execute(trx);
}

export async function notifyAvailable(trx: Db): Promise<void> {
  await sql`SELECT pg_notify(${Channel.AVAILABLE}, '')`.execute(trx);
}

export async function notifyCancel(trx: Db, runIds: string[]): Promise<void> {
  if (runIds.length === 0) return;
  const payloads: string[] = [];
  for (let i = 0; i < runIds.length; i += CHUNK) payloads.push(JSON.stringify({ runIds: runIds.slice(i, i + CHUNK) }));
  await sql`SELECT pg_notify(${Channel.CANCEL}, p) FROM unnest(${payloads}::text[]) AS p`.execute(trx);
}
