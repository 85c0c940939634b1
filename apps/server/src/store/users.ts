import { sql } from "kysely";
import type { Role } from "@runway/shared";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyAuthChange } from "./auth-notify.js";

export interface User {
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
}

interface Row {
  username: string;
  role: string;
  disabled: boolean;
  created_at: Date;
}

const toUser = (r: Row): User => ({
  username: r.username,
  role: r.role as Role,
  disabled: r.disabled,
  createdAt: r.created_at.toISOString(),
});
const COLUMNS = ["username", "role", "disabled", "created_at"] as const;

export async function userList(db: Db): Promise<User[]> {
  return (await db.selectFrom("app_user").select(COLUMNS).orderBy("username").execute()).map(toUser);
}

export async function userGet(db: Db, username: string): Promise<User | undefined> {
  const row = await db.selectFrom("app_user").select(COLUMNS).where("username", "=", username).executeTakeFirst();
  return row && toUser(row);
}

/** The stored hash, for login only: it never leaves the auth code. */
export async function userCredentials(
  db: Db,
  username: string,
): Promise<{ passwordHash: string; role: Role; disabled: boolean } | undefined> {
  const row = await db
    .selectFrom("app_user")
    .select(["password_hash", "role", "disabled"])
    .where("username", "=", username)
    .executeTakeFirst();
  return row && { passwordHash: row.password_hash, role: row.role as Role, disabled: row.disabled };
}

export async function userCreate(db: Db, p: { username: string; passwordHash: string; role: Role; now: Date }): Promise<User> {
  const row = await db
    .insertInto("app_user")
    .values({ username: p.username, password_hash: p.passwordHash, role: p.role, created_at: p.now })
    .onConflict((oc) => oc.column("username").doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw new StoreError("CONFLICT", `user "${p.username}" already exists`);
  return toUser(row);
}

/**
 * Changes role, disabled flag and/or password. Refuses to leave no enabled admin (nobody could manage
 * users any more). Disabling or a new password ends the user's sessions; a new password also revokes the
 * user's API tokens (whoever knew the old password may have made some). A disabled user's tokens stop
 * working through the disabled flag, which every token lookup checks.
 */
export async function userUpdate(
  db: Db,
  username: string,
  patch: { role?: Role; disabled?: boolean; passwordHash?: string },
  now: Date,
): Promise<User> {
  return db.transaction().execute(async (trx) => {
    // Locking every admin row serializes concurrent demotions, so two can never both pass the check.
    await sql`SELECT 1 FROM app_user WHERE role = 'admin' ORDER BY username FOR UPDATE`.execute(trx);
    const before = await trx
      .selectFrom("app_user")
      .select(["role", "disabled"])
      .where("username", "=", username)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new StoreError("NOT_FOUND", `user "${username}" not found`);
    const role = patch.role ?? before.role;
    const disabled = patch.disabled ?? before.disabled;
    if (before.role === "admin" && !before.disabled && (role !== "admin" || disabled)) {
      const others = await trx
        .selectFrom("app_user")
        .select("username")
        .where("role", "=", "admin")
        .where("disabled", "=", false)
        .where("username", "<>", username)
        .executeTakeFirst();
      if (!others) throw new StoreError("FAILED_PRECONDITION", `user "${username}" is the last enabled admin; make another admin first`);
    }
    const row = await trx
      .updateTable("app_user")
      .set({ role, disabled, ...(patch.passwordHash ? { password_hash: patch.passwordHash } : {}) })
      .where("username", "=", username)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    if ((disabled && !before.disabled) || patch.passwordHash) {
      await trx.deleteFrom("user_session").where("username", "=", username).execute();
    }
    if (patch.passwordHash) await revokeTokens(trx, username, now);
    if (role !== before.role || disabled !== before.disabled || patch.passwordHash) await notifyAuthChange(trx, username);
    return toUser(row);
  });
}

async function revokeTokens(db: Db, username: string, now: Date): Promise<number> {
  const res = await db
    .updateTable("api_token")
    .set({ revoked_at: now })
    .where("username", "=", username)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** "Sign out everywhere": ends every session of the user and revokes every API token of theirs. */
export async function userSignOutEverywhere(db: Db, p: { username: string; now: Date }): Promise<{ sessions: number; tokens: number }> {
  return db.transaction().execute(async (trx) => {
    const sessions = await trx.deleteFrom("user_session").where("username", "=", p.username).executeTakeFirst();
    const tokens = await revokeTokens(trx, p.username, p.now);
    await notifyAuthChange(trx, p.username);
    return { sessions: Number(sessions.numDeletedRows), tokens };
  });
}

/** First start of an empty database: creates `admin` unless any user exists. True when it did. */
export async function userBootstrapAdmin(db: Db, p: { passwordHash: string; now: Date }): Promise<boolean> {
  // Replicas starting together race here; the primary key lets exactly one insert win.
  const { rows } = await sql<{ username: string }>`
    INSERT INTO app_user (username, password_hash, role, created_at)
    SELECT 'admin', ${p.passwordHash}, 'admin', ${p.now} WHERE NOT EXISTS (SELECT 1 FROM app_user)
    ON CONFLICT (username) DO NOTHING RETURNING username`.execute(db);
  return rows.length === 1;
}

export async function userCount(db: Db): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM app_user`.execute(db);
  return rows[0]?.n ?? 0;
}
