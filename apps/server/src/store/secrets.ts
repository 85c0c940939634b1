import { sql } from "kysely";
import type { Db } from "./db.js";

/** Serializes key checks and re-encryption between replicas starting together and rotate-key. */
const SECRETS_LOCK = 7_301_010;

export interface KeyCheck {
  keyId: string;
  checkValue: string;
}

export interface StoredSecret {
  /** The instance whose connection URL it is, or (webhookId set) the webhook whose signing secret it is. */
  instanceId: string;
  webhookId?: string;
  value: string;
}

/** How a stored secret is named in messages. */
export const secretOwner = (s: StoredSecret): string => (s.webhookId ? `webhook ${s.webhookId}` : `instance "${s.instanceId}"`);

/**
 * Runs `fn` in one transaction holding the secrets lock: two replicas with different keys starting on an
 * empty database cannot both record their key.
 */
export async function secretsLocked<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${SECRETS_LOCK})`.execute(trx);
    return fn(trx);
  });
}

export async function secretKeyChecks(db: Db): Promise<KeyCheck[]> {
  const rows = await db.selectFrom("secret_key_check").select(["key_id", "check_value"]).orderBy("created_at").execute();
  return rows.map((r) => ({ keyId: r.key_id, checkValue: r.check_value }));
}

export async function secretKeyCheckAdd(db: Db, c: KeyCheck): Promise<void> {
  await db
    .insertInto("secret_key_check")
    .values({ key_id: c.keyId, check_value: c.checkValue })
    .onConflict((oc) => oc.column("key_id").doNothing())
    .execute();
}

/** After a rotation: only the new key's check remains, so a replica with just the old key refuses to start. */
export async function secretKeyChecksKeepOnly(db: Db, keyId: string): Promise<void> {
  await db.deleteFrom("secret_key_check").where("key_id", "<>", keyId).execute();
}

/** Every stored secret (deleted instances and webhooks too: their rows still hold one). */
export async function storedSecrets(db: Db): Promise<StoredSecret[]> {
  const rows = await db.selectFrom("instance").select(["id", "connection_url"]).orderBy("id").execute();
  const hooks = await db
    .selectFrom("webhook")
    .select(["id", "project_id", "secret"])
    .where("secret", "is not", null)
    .orderBy("id")
    .execute();
  return [
    ...rows.map((r) => ({ instanceId: r.id, value: r.connection_url })),
    ...hooks.map((h) => ({ instanceId: "", webhookId: h.id, value: h.secret! })),
  ];
}

/** Compare-and-set: replaces the value only if nobody changed it meanwhile. True when replaced. */
export async function storedSecretReplace(
  db: Db,
  p: { instanceId: string; webhookId?: string; before: string; after: string },
): Promise<boolean> {
  if (p.webhookId) {
    const res = await db
      .updateTable("webhook")
      .set({ secret: p.after })
      .where("id", "=", p.webhookId)
      .where("secret", "=", p.before)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
  const res = await db
    .updateTable("instance")
    .set({ connection_url: p.after })
    .where("id", "=", p.instanceId)
    .where("connection_url", "=", p.before)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
