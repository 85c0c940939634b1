import { sql } from "kysely";
import type { Db } from "./db.js";

/** How failed sign-ins turn into waiting (auth/login-throttle.ts decides the keys and the numbers). */
export interface BackoffPolicy {
  /** Failures allowed before the first lock. */
  free: number;
  /** First lock; each further failure after it doubles the lock, up to maxLockMs. */
  baseLockMs: number;
  maxLockMs: number;
  /** A key whose last failure is this old starts from zero again. */
  forgetAfterMs: number;
}

/** The latest time any of `keys` is locked until, if one is locked at `now`. */
export async function loginLockedUntil(db: Db, p: { keys: string[]; now: Date }): Promise<Date | undefined> {
  if (p.keys.length === 0) return undefined;
  const row = await db
    .selectFrom("login_failure")
    .select(({ fn }) => fn.max("locked_until").as("until"))
    .where("key", "in", p.keys)
    .where("locked_until", ">", p.now)
    .executeTakeFirst();
  return row?.until ?? undefined;
}

/**
 * Counts one failure against a key, in one statement (concurrent failures on several replicas each count):
 * failures past `free` lock the key for baseLockMs·2^(failures−free), capped. Also forgets keys that have
 * been quiet for forgetAfterMs, so the table holds only recent trouble.
 */
export async function loginFailureRecord(db: Db, p: { key: string; now: Date; policy: BackoffPolicy }): Promise<void> {
  const { free, baseLockMs, maxLockMs, forgetAfterMs } = p.policy;
  const forgetBefore = new Date(p.now.getTime() - forgetAfterMs);
  const failures = sql<number>`CASE WHEN f.last_failure_at < ${forgetBefore} THEN 1 ELSE f.failures + 1 END`;
  const lock = (n: unknown) =>
    sql`CASE WHEN ${n} >= ${free}
      THEN ${p.now}::timestamptz + make_interval(secs => least(${maxLockMs}::float8, ${baseLockMs}::float8 * power(2, least(${n} - ${free}, 40))) / 1000)
      END`;
  await sql`
    INSERT INTO login_failure AS f (key, failures, last_failure_at, locked_until)
    VALUES (${p.key}, 1, ${p.now}, ${lock(sql`1`)})
    ON CONFLICT (key) DO UPDATE SET failures = ${failures}, last_failure_at = ${p.now}, locked_until = ${lock(failures)}`.execute(db);
  await db
    .deleteFrom("login_failure")
    .where("last_failure_at", "<", forgetBefore)
    .where((eb) => eb.or([eb("locked_until", "is", null), eb("locked_until", "<", p.now)]))
    .execute();
}

/** A successful sign-in clears its key. */
export async function loginFailureClear(db: Db, key: string): Promise<void> {
  await db.deleteFrom("login_failure").where("key", "=", key).execute();
}
