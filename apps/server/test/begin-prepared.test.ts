import pg from "pg";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { beginPrepared, preparedCommit, sqlLiteral } from "../src/store/begin-prepared.js";
import { createDb, createPassDb } from "../src/store/db.js";
import { PENDING_PASS_LOCK, gatingPassTransaction } from "../src/store/gating.js";
import { advisoryLockHeld, useTestDatabase } from "./helpers/db.js";

/**
 * A transaction's first statement sent with its BEGIN in one message (store/begin-prepared.ts), as the pending
 * pass sends its lock statement (gatingPassTransaction).
 */

const t = useTestDatabase();
// Closed after each test, before its database is dropped (hooks run last-registered first).
const closing: { destroy(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closing.splice(0)) await c.destroy();
});

/** A pool of one session, as a replica's passes have (createPassDb). */
function passDb() {
  const db = createPassDb(t.url, "begin-prepared test");
  closing.push(db);
  return db;
}

describe("sqlLiteral", () => {
  it("quotes values as escape strings and refuses what it cannot bind", () => {
    expect(sqlLiteral("it's a \\ path")).toBe("E'it''s a \\\\ path'");
    expect(sqlLiteral(5000)).toBe("E'5000'");
    expect(sqlLiteral(true)).toBe("E'true'");
    expect(sqlLiteral(null)).toBe("NULL");
    expect(() => sqlLiteral(Number.NaN)).toThrow(/finite/);
    expect(sqlLiteral(new Date("2026-12-07T08:30:00.123Z"))).toBe("E'2026-12-07T08:30:00.123Z'");
    expect(sqlLiteral(["1", 2, null])).toBe(`E'{"1","2",NULL}'`);
    expect(() => sqlLiteral(new Date(Number.NaN))).toThrow(/invalid Date/);
    expect(() => sqlLiteral([["a"]])).toThrow(/flat arrays/);
    expect(() => sqlLiteral({ a: 1 })).toThrow(/only strings/);
    expect(() => sqlLiteral("a\0b")).toThrow(/NUL/);
    expect(() => sqlLiteral(["a\0b"])).toThrow(/NUL/);
  });

  it("gives PostgreSQL the values a text-format bind would: arrays with quotes, commas, braces and backslashes, instants", async () => {
    const texts = ['a "quoted", {braced} \\ value', "it's", "", "NULL"];
    const at = new Date("2026-12-07T08:30:00.123Z");
    const { rows } = await t.pool.query<{ texts: string[]; ids: string[]; at: Date; n: number }>(
      `SELECT ${sqlLiteral(texts)}::text[] AS texts, ${sqlLiteral(["1", "9007199254740993"])}::bigint[] AS ids,
         ${sqlLiteral(at)}::timestamptz AS at, ${sqlLiteral(42)}::int AS n`,
    );
    expect(rows[0]).toEqual({ texts, ids: ["1", "9007199254740993"], at, n: 42 });
  });
});

describe("preparedCommit", () => {
  const statement = (key: number, ids: string[]) =>
    preparedCommit(sql<{ locked: boolean; ids: string[] }>`
      SELECT pg_try_advisory_xact_lock(${key}) AS locked, ${ids}::bigint[]::text[] AS ids`);

  it("ends the transaction in the statement's message, with the statement's result, and PREPAREs once per session", async () => {
    const db = passDb();
    await db.connection().execute(async (conn) => {
      for (let i = 0; i < 3; i++) {
        await sql`BEGIN`.execute(conn);
        await sql`INSERT INTO gating_dirty_rollout (rollout_id) VALUES (${9000 + i})`.execute(conn);
        const { rows } = await statement(9_100_011, ["7", String(i)]).execute(conn);
        expect(rows).toEqual([{ locked: true, ids: ["7", String(i)] }]);
        // Committed: the transaction-level lock is gone, what it wrote is visible to others, no transaction is open.
        expect(await advisoryLockHeld(t.pool, 9_100_011)).toBe(false);
        const seen = await t.pool.query("SELECT 1 FROM gating_dirty_rollout WHERE rollout_id = $1", [9000 + i]);
        expect(seen.rowCount).toBe(1);
        const open = await sql<{ open: boolean }>`SELECT now() <> statement_timestamp() AS open`.execute(conn);
        expect(open.rows[0]!.open).toBe(false);
      }
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_prepared_statements WHERE from_sql AND name LIKE 'rwc\\_%'`.execute(conn);
      expect(rows[0]!.n).toBe(1);
    });
  });

  it("a statement that fails sends no COMMIT: the transaction is aborted, and the pass's ROLLBACK undoes it", async () => {
    const db = passDb();
    await t.pool.query("DELETE FROM gating_dirty_rollout");
    await expect(
      gatingPassTransaction(db, { key: PENDING_PASS_LOCK }, async (trx, _changes, ended) => {
        await sql`INSERT INTO gating_dirty_rollout (rollout_id) VALUES (9100)`.execute(trx);
        await preparedCommit(sql`SELECT 1 / (${0}::int) AS x`).execute(trx);
        ended.committed = true;
      }),
    ).rejects.toThrow(/division by zero/);
    expect((await t.pool.query("SELECT 1 FROM gating_dirty_rollout WHERE rollout_id = 9100")).rowCount).toBe(0);
    expect(await advisoryLockHeld(t.pool, PENDING_PASS_LOCK)).toBe(false);
    // The session is usable, and a pass that ends with such a statement commits without a COMMIT of its own.
    const n = await gatingPassTransaction(db, { key: PENDING_PASS_LOCK }, async (trx, _changes, ended) => {
      await sql`INSERT INTO gating_dirty_rollout (rollout_id) VALUES (9101)`.execute(trx);
      const { rows } = await preparedCommit(sql<{ x: number }>`SELECT 1 / (${1}::int) AS x`).execute(trx);
      ended.committed = true;
      return rows[0]!.x;
    });
    expect(n).toBe(1);
    expect((await t.pool.query("SELECT 1 FROM gating_dirty_rollout WHERE rollout_id = 9101")).rowCount).toBe(1);
    expect(await advisoryLockHeld(t.pool, PENDING_PASS_LOCK)).toBe(false);
  });
});

describe("beginPrepared", () => {
  const statement = (key: number, text: string) =>
    beginPrepared(sql<{ locked: boolean; echo: string; mode: string }>`
      SELECT pg_try_advisory_xact_lock(${key}) AS locked, ${text}::text AS echo, current_setting('transaction_isolation') AS mode`);

  it("begins a transaction in the statement's message, binds values exactly, and PREPAREs once per session", async () => {
    const db = passDb();
    const tricky = "quote ' backslash \\ and $1";
    await db.connection().execute(async (conn) => {
      for (let i = 0; i < 3; i++) {
        const { rows } = await statement(9_100_001, tricky).execute(conn);
        expect(rows[0]).toEqual({ locked: true, echo: tricky, mode: "read committed" });
        // A transaction-level lock outlives the statement only inside a transaction the message began.
        expect(await advisoryLockHeld(t.pool, 9_100_001)).toBe(true);
        await sql`COMMIT`.execute(conn);
        expect(await advisoryLockHeld(t.pool, 9_100_001)).toBe(false);
      }
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_prepared_statements WHERE from_sql AND name LIKE 'rwb\\_%'`.execute(conn);
      expect(rows[0]!.n).toBe(1);
    });
  });

  it("prepares again on a new session after the old one was ended", async () => {
    const db = passDb();
    const pid = async () => (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db)).rows[0]!.pid;
    await db.connection().execute(async (conn) => {
      await statement(9_100_002, "first").execute(conn);
      await sql`COMMIT`.execute(conn);
    });
    const first = await pid();
    await t.pool.query("SELECT pg_terminate_backend($1)", [first]);
    // The pool finds its idle session gone (possibly on a first failed query) and opens another.
    let rows: { echo: string }[] = [];
    for (let attempt = 0; attempt < 3 && rows.length === 0; attempt++) {
      try {
        rows = await db.connection().execute(async (conn) => {
          const r = await statement(9_100_002, "second").execute(conn);
          await sql`COMMIT`.execute(conn);
          return r.rows;
        });
      } catch {
        // the ended session's error: the pool drops it
      }
    }
    expect(rows[0]?.echo).toBe("second");
    expect(await pid()).not.toBe(first);
  });

  it("prepares again, in the same call, a statement the session lost (a DEALLOCATE, a pooler's reset)", async () => {
    const db = passDb();
    await db.connection().execute(async (conn) => {
      await statement(9_100_004, "before").execute(conn);
      await sql`COMMIT`.execute(conn);
      await sql`DEALLOCATE ALL`.execute(conn);
      const { rows } = await statement(9_100_004, "after").execute(conn);
      expect(rows[0]!.echo).toBe("after");
      expect(await advisoryLockHeld(t.pool, 9_100_004)).toBe(true);
      await sql`COMMIT`.execute(conn);
      expect(await advisoryLockHeld(t.pool, 9_100_004)).toBe(false);
    });
  });

  it("on a client that does not know the mark, fails loudly with values and runs unprepared in a transaction without", async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 1 });
    pool.on("error", () => undefined);
    const db = createDb(pool);
    closing.push(db);
    await expect(statement(9_100_003, "x").execute(db)).rejects.toThrow(/multiple commands/);
    await db.connection().execute(async (conn) => {
      const { rows } = await beginPrepared(sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(9100003) AS locked`).execute(conn);
      expect(rows).toEqual([]);
      expect(await advisoryLockHeld(t.pool, 9_100_003)).toBe(true);
      await sql`ROLLBACK`.execute(conn);
    });
  });
});

describe("preparedCommit on a client that does not know the mark", () => {
  it("fails loudly with values, and sends the statement with its COMMIT without", async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 1 });
    pool.on("error", () => undefined);
    const db = createDb(pool);
    closing.push(db);
    await db.connection().execute(async (conn) => {
      await sql`BEGIN`.execute(conn);
      await expect(preparedCommit(sql`SELECT ${1}::int AS x`).execute(conn)).rejects.toThrow(/multiple commands/);
      await sql`ROLLBACK`.execute(conn);
      await sql`BEGIN`.execute(conn);
      await preparedCommit(sql`SELECT pg_try_advisory_xact_lock(9100012)`).execute(conn);
      expect(await advisoryLockHeld(t.pool, 9_100_012)).toBe(false);
      const { rows } = await sql<{ open: boolean }>`SELECT now() <> statement_timestamp() AS open`.execute(conn);
      expect(rows[0]!.open).toBe(false);
    });
  });
});

describe("gatingPassTransaction", () => {
  it("commits what the pass wrote, and rolls back and lets go of the lock when the pass fails", async () => {
    const db = passDb();
    const marks = async () => (await t.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM gating_dirty_rollout")).rows[0]!.n;
    await t.pool.query("DELETE FROM gating_dirty_rollout");
    await t.pool.query("INSERT INTO gating_dirty_rollout (rollout_id) VALUES (1), (2)");
    // A failing pass: the marks it took come back, the lock is free, and the session is not left in a transaction.
    await expect(
      gatingPassTransaction(db, { key: PENDING_PASS_LOCK }, async (trx, changes) => {
        expect(changes.rollouts.map((r) => r.rolloutId).sort()).toEqual(["1", "2"]);
        expect(await advisoryLockHeld(t.pool, PENDING_PASS_LOCK)).toBe(true);
        await sql`SELECT 1 / 0`.execute(trx);
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await marks()).toBe(2);
    expect(await advisoryLockHeld(t.pool, PENDING_PASS_LOCK)).toBe(false);
    const { rows } = await sql<{ open: boolean }>`SELECT now() <> statement_timestamp() AS open`.execute(db);
    expect(rows[0]!.open).toBe(false);
    // A pass that ends well commits: the marks are taken for good.
    const taken = await gatingPassTransaction(db, { key: PENDING_PASS_LOCK }, async (_trx, changes) => changes.rollouts.length);
    expect(taken).toBe(2);
    expect(await marks()).toBe(0);
    expect(await advisoryLockHeld(t.pool, PENDING_PASS_LOCK)).toBe(false);
  });

  it("returns null without running the pass while another session holds the lock", async () => {
    const db = passDb();
    const holder = await t.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT pg_advisory_xact_lock(${PENDING_PASS_LOCK})`);
      let ran = false;
      expect(await gatingPassTransaction(db, { key: PENDING_PASS_LOCK }, async () => (ran = true))).toBeNull();
      expect(ran).toBe(false);
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
  });
});
