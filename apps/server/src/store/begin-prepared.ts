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
 * bound values (`sqlLiteral`). For a statement whose text takes a
 * bounded number of forms, like `prepared()`.
 */
export function beginPrepared<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(BEGIN_MARK)}\n${statement}`;
}

/**
 * A value as an SQL string literal of unknown type (an escape string: right whatever standard_conforming_strings
 * says), which PostgreSQL reads as it reads the same value bound in text format: strings, finite numbers,
 * booleans, null, a Date (its ISO 8601 instant) and an array of those but Dates (an array literal).
 */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  return `E'${escapeText(Array.isArray(v) ? arrayText(v) : v instanceof Date ? dateText(v) : scalarText(v))}'`;
}

function scalarText(v: unknown): string {
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`sqlLiteral: value ${v} is not a finite number`);
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean" && typeof v !== "bigint") {
    throw new Error(`sqlLiteral: only strings, numbers, booleans, null, Dates and arrays can be bound, got ${typeof v}`);
  }
  return String(v);
}

function dateText(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error("sqlLiteral: an invalid Date");
  return d.toISOString();
}

/** An array literal ('{…}'): every element double-quoted, so commas, braces and spaces in it stay its own. */
function arrayText(a: unknown[]): string {
  const element = (x: unknown) => {
    if (x === null || x === undefined) return "NULL";
    if (Array.isArray(x) || x instanceof Date) throw new Error("sqlLiteral: only flat arrays of strings, numbers and booleans");
    return `"${scalarText(x).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  };
  return `{${a.map(element).join(",")}}`;
}

function escapeText(s: string): string {
  if (s.includes("\0")) throw new Error("sqlLiteral: a value holds a NUL character");
  return s.replace(/\\/g, "\\\\").replace(/'/g, "''");
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
  const args = executeArgs(values);
  for (let attempt = 0; ; attempt++) {
    await prepareOnce(send, preparedHere, name, text);
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

/** The first and the last bytes of a statement that `preparedCommit()` marked. */
export const COMMIT_MARK = "/* prepared+commit */";
export const COMMIT_TAIL = ";\nCOMMIT";

/**
 * Marks a transaction's last statement to be sent in one message with its COMMIT, and planned once per session:
 * `EXECUTE name(…); COMMIT`, the statement PREPAREd by SQL the first time the session met it, as for
 * `beginPrepared` (whose rules for values it shares). A transaction's COMMIT otherwise costs a round trip of
 * its own after its last statement. Only for a statement the caller knows to be the last, whose failure it
 * handles as any in the transaction: the server skips the rest of a message after an error, so COMMIT runs
 * only if the statement succeeded, and the transaction is left aborted for the caller's ROLLBACK. The text is
 * the statement and its COMMIT, so a client that does not know the mark sends both (without values), or refuses
 * the text loudly (with values: the extended protocol takes one statement), never the statement alone.
 */
export function preparedCommit<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(COMMIT_MARK)}\n${statement}${sql.raw(COMMIT_TAIL)}`;
}

/**
 * Sends a statement marked by `preparedCommit` (its text between COMMIT_MARK and COMMIT_TAIL), named `name`,
 * with COMMIT, in the transaction its session is in: PREPAREs it first if this session has not (a prepared
 * statement outlives a ROLLBACK of the transaction that made it). Resolves to the statement's result. A session that lost the
 * statement fails the EXECUTE with 26000, which aborts the transaction: that is the caller's error, and the
 * next call prepares again.
 */
export async function sendPreparedCommit(
  send: Send,
  preparedHere: Set<string>,
  name: string,
  text: string,
  values: unknown,
): Promise<pg.QueryResult> {
  await prepareOnce(send, preparedHere, name, text);
  try {
    const res = await send(`EXECUTE ${name}${executeArgs(values)}${COMMIT_TAIL}`);
    return Array.isArray(res) ? res[0]! : res;
  } catch (e) {
    if ((e as { code?: string }).code === NO_SUCH_STATEMENT) preparedHere.delete(name);
    throw e;
  }
}

/** An EXECUTE's argument list for the values bound, as literals ("" for none). */
function executeArgs(values: unknown): string {
  const bound = Array.isArray(values) ? values : [];
  return bound.length > 0 ? `(${bound.map(sqlLiteral).join(", ")})` : "";
}

/** PREPAREs `text` as `name` in its own message unless this session has; recorded only once it succeeded. */
async function prepareOnce(send: Send, preparedHere: Set<string>, name: string, text: string): Promise<void> {
  if (preparedHere.has(name)) return;
  await send(`PREPARE ${name} AS ${text}`);
  preparedHere.add(name);
}
