import type { Role } from "@runway/shared";
import { sql } from "kysely";
import { Channel, type Db } from "./db.js";

/** A session as the auth hook sees it. `idHash` is the SHA-256 of the cookie value; the raw value is never stored. */
export interface SessionUser {
  username: string;
  role: Role;
  csrfToken: string;
}

export async function sessionCreate(
  db: Db,
  p: { idHash: string; username: string; csrfToken: string; now: Date; expiresAt: Date },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // Logins are rare and rate limited: a fine moment to forget expired sessions without a sweeper.
    await trx.deleteFrom("user_session").where("expires_at", "<", p.now).execute();
    await trx
      .insertInto("user_session")
      .values({ id: p.idHash, username: p.username, csrf_token: p.csrfToken, created_at: p.now, expires_at: p.expiresAt })
      .execute();
  });
}

/** The session's user, if the session exists, has not expired and its user is not disabled. */
export async function sessionGet(db: Db, p: { idHash: string; now: Date }): Promise<SessionUser | undefined> {
  const row = await db
    .selectFrom("user_session as s")
    .innerJoin("app_user as u", "u.username", "s.username")
    .select(["u.username", "u.role", "s.csrf_token"])
    .where("s.id", "=", p.idHash)
    .where("s.expires_at", ">", p.now)
    .where("u.disabled", "=", false)
    .executeTakeFirst();
  return row && { username: row.username, role: row.role as Role, csrfToken: row.csrf_token };
}

/** Ends a session (sign-out); streams opened with it are told through the auth channel. */
export async function sessionDelete(db: Db, idHash: string): Promise<void> {
  await sql`
    WITH gone AS (DELETE FROM user_session WHERE id = ${idHash} RETURNING username)
    SELECT pg_notify(${Channel.AUTH}, json_build_object('username', username)::text) FROM gone`.execute(db);
}
