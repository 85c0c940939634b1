import { sql } from "kysely";
import { Channel, type Db } from "./db.js";
import { notifyChangeOf } from "./run-effects.js";

/** NOTIFY payloads are limited to 8000 bytes: run ids go out in chunks, all in one statement. */
const CHUNK = 200;

/** One statement whatever the number of rollouts (none: a statement that notifies nobody). */
export async function notifyChange(trx: Db, rolloutIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(rolloutIds)];
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
