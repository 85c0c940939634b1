import { sql } from "kysely";
import type { Role } from "@runway/shared";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyAuthChange } from "./auth-notify.js";

export interface ApiToken {
  id: string;
  username: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  expiresAt: string | null;
}

interface Row {
  id: string;
  username: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
}

const COLUMNS = ["id", "username", "name", "created_at", "last_used_at", "revoked_at", "expires_at"] as const;
const toToken = (r: Row): ApiToken => ({
  id: r.id,
  username: r.username,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
  expiresAt: r.expires_at?.toISOString() ?? null,
});

/** Last-use times are kept to the minute: a write per API call would be churn. */
const TOUCH_EVERY_SECONDS = 60;

/** `expiresAt` null: the token lives until revoked. */
export async function tokenCreate(
  db: Db,
  p: { username: string; name: string; tokenHash: string; now: Date; expiresAt?: Date | null },
): Promise<ApiToken> {
  const row = await db
    .insertInto("api_token")
    .values({ username: p.username, name: p.name, token_hash: p.tokenHash, created_at: p.now, expires_at: p.expiresAt ?? null })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toToken(row);
}

/** Tokens of one user, or of everyone when `username` is undefined (admins). Newest first. */
export async function tokenList(db: Db, p: { username?: string }): Promise<ApiToken[]> {
  let q = db.selectFrom("api_token").select(COLUMNS).orderBy("id", "desc");
  if (p.username !== undefined) q = q.where("username", "=", p.username);
  return (await q.execute()).map(toToken);
}

/** The token's user when the token is live (not revoked, not expired) and its user enabled; marks the token used. */
export async function tokenAuthenticate(
  db: Db,
  p: { tokenHash: string; now: Date },
): Promise<{ id: string; username: string; role: Role } | undefined> {
  const { rows } = await sql<{ id: string; username: string; role: string; stale: boolean }>`
    SELECT t.id, u.username, u.role,
      (t.last_used_at IS NULL OR t.last_used_at < ${p.now}::timestamptz - make_interval(secs => ${TOUCH_EVERY_SECONDS})) AS stale
    FROM api_token t JOIN app_user u ON u.username = t.username
    WHERE t.token_hash = ${p.tokenHash} AND t.revoked_at IS NULL AND NOT u.disabled
      AND (t.expires_at IS NULL OR t.expires_at > ${p.now})`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  if (row.stale) await db.updateTable("api_token").set({ last_used_at: p.now }).where("id", "=", row.id).execute();
  return { id: row.id, username: row.username, role: row.role as Role };
}

/**
 * Revokes a token (idempotent). With `username` set, only that user's token is found: someone else's
 * token is reported missing rather than forbidden, so ids cannot be probed.
 */
export async function tokenRevoke(db: Db, p: { id: string; username?: string; now: Date }): Promise<ApiToken> {
  let q = db
    .updateTable("api_token")
    .set({ revoked_at: sql`coalesce(revoked_at, ${p.now}::timestamptz)` })
    .where("id", "=", p.id);
  if (p.username !== undefined) q = q.where("username", "=", p.username);
  const row = await q.returning(COLUMNS).executeTakeFirst();
  if (!row) throw new StoreError("NOT_FOUND", `API token ${p.id} not found`);
  await notifyAuthChange(db, row.username);
  return toToken(row);
}
