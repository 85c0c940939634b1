import { sql, type RawBuilder } from "kysely";
import type pg from "pg";

/**
 * The first bytes of a statement that `beginPrepared()` marked. The rest is `BEGIN; <statement>`, so a client
 * that does not know the mark (not ControlClient) still runs the statement inside the transaction it begins —
 * unprepared — or, when values are bound, refuses it loudly (the extended protocol takes one statement).
 */
export const BEGIN_MARK = "/* begin+prepared */ BEGIN;";

/**
 * Marks a transaction's first statement to be sent in one message with its BEGIN, and planned once per
 * session. A transaction begun by `BEGIN` costs a round trip of its own before its first statement (issue 19:
 * the pending pass's BEGIN was 0.2 ms of the ~4 ms pickup through a pass), and node-postgres sends a
 * statement only after the previous one's reply, so the two go as one simple-protocol message: `BEGIN;
 * EXECUTE name(…)` on a statement this session PREPAREd by SQL the first time it met it (the protocol's
 * named statements, which `prepared()` uses, cannot share a message with BEGIN). Its values go in as quoted
 * literals, which PostgreSQL coerces to the parameter types the PREPARE inferred, as it coerces text-format
 * bound values: only strings, numbers, booleans and null (`sqlLiteral`). For a statement whose text takes a
 * bounded number of forms, like `prepared()`.
 */
export function beginPrepared<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(BEGIN_MARK)}\n${statement}`;
}

/** A value as an SQL string literal of unknown type (an escape string: right whatever standard_conforming_strings says). */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`beginPrepared: value ${v} is not a finite number`);
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean" && typeof v !== "bigint") {
    throw new Error(`beginPrepared: only strings, numbers, booleans and null can be bound, got ${typeof v}`);
  }
  const s = String(v);
  if (s.includes("\0")) throw new Error("beginPrepared: a value holds a NUL character");
  return `E'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

type Send = (text: string) => Promise<pg.QueryResult | pg.QueryResult[]>;

/** invalid_sql_statement_name: EXECUTE of a statement the session does not have. */
const NO_SUCH_STATEMENT = "26000";

/**
 * Sends a marked statement's text (after BEGIN_MARK), named `name`, on a session whose SQL-prepared statements are
 * `preparedHere`: PREPAREs it first if this session has not (its own message, outside any transaction, and
 * recorded only once it succeeded), then `BEGIN; EXECUTE`. Resolves to the statement's result.
 *
 * A session that lost the statement all the same (a `DEALLOCATE` sent on it, a pooler's reset between two
 * messages) fails the EXECUTE with 26000 right after its BEGIN: nothing else ran in that transaction, so it is
 * rolled back here and the statement prepared and sent once more. A second 26000 (a pooler that hands each
 * message another server session: transaction pooling, which the pass session must not be behind,
 * docs/operations.md) is the caller's error, and the next call prepares again.
 */
export async function sendBeginPrepared(
  send: Send,
  preparedHere: Set<string>,
  name: string,
  text: string,
  values: unknown,
): Promise<pg.QueryResult> {
  const bound = Array.isArray(values) ? values : [];
  const args = bound.length > 0 ? `(${bound.map(sqlLiteral).join(", ")})` : "";
  for (let attempt = 0; ; attempt++) {
    if (!preparedHere.has(name)) {
      await send(`PREPARE ${name} AS ${text}`);
      preparedHere.add(name);
    }
    try {
      const res = await send(`BEGIN; EXECUTE ${name}${args}`);
      return Array.isArray(res) ? res[res.length - 1]! : res;
    } catch (e) {
      if ((e as { code?: string }).code !== NO_SUCH_STATEMENT) throw e;
      preparedHere.delete(name);
      if (attempt > 0) throw e;
      await send("ROLLBACK");
    }
  }
}
