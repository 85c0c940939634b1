import { sql } from "kysely";
import { Channel, type Db } from "./db.js";

/**
 * Tells every replica that `username`'s credentials or rights changed (signed out, disabled, role, token
 * revoked), so open SSE streams of theirs are checked at once instead of at the next interval. Inside a
 * transaction the notification goes out at commit, never for a change that rolled back.
 */
export async function notifyAuthChange(db: Db, username: string): Promise<void> {
  await sql`SELECT pg_notify(${Channel.AUTH}, ${JSON.stringify({ username })})`.execute(db);
}
