import { CompiledQuery, type QueryResult, type RawBuilder } from "kysely";
import type { Db } from "./db.js";

/**
 * A value a memoized statement's builder was given in place of the real one. It may only go into the SQL
 * as a parameter (`${value}`): used any other way in the builder (arithmetic, a string, a literal) it
 * throws, so a builder that shapes its text from a value cannot be memoized by mistake.
 */
class Slot {
  constructor(readonly name: string) {
    Object.freeze(this);
  }
  valueOf(): never {
    throw new Error(`memoStatement: value ${this.name} was used to build the statement's text, not as a parameter`);
  }
  toString(): never {
    return this.valueOf();
  }
  [Symbol.toPrimitive](): never {
    return this.valueOf();
  }
}

/**
 * A statement whose text depends only on its `shape` (a few structural choices: a LIMIT bucket, which
 * transition), built and compiled once per shape; a call only binds its values. The running scheduler's
 * and the API's hot statements are built from dozens of template fragments, and building and compiling one
 * took 0.1 ms of the event loop back to back and 0.3 ms after an idle moment (issue 19: on the pickup path
 * of every run, twice — the create and the claim). Every value the builder reads is a placeholder (a Slot,
 * made when the builder first reads it), and must go into the SQL only as a parameter. What a call sends is
 * what a fresh build would send (`fresh`; test/memo-statement.test.ts compares the two for each memoized
 * statement).
 */
export function memoStatement<V extends object, S extends string | number, R>(
  build: (values: V, shape: S) => RawBuilder<R>,
): MemoStatement<V, S, R> {
  const compiled = new Map<S, { sql: string; parameters: readonly unknown[] }>();
  const compile = (db: Db, shape: S, values: V): CompiledQuery<R> => {
    let c = compiled.get(shape);
    if (c === undefined) {
      const made: Record<string, Slot> = {};
      const slots = new Proxy(made, { get: (_, k) => (typeof k === "string" ? (made[k] ??= new Slot(k)) : undefined) }) as V;
      const q = build(slots, shape).compile(db);
      c = { sql: q.sql, parameters: q.parameters };
      compiled.set(shape, c);
    }
    const v = values as Record<string, unknown>;
    return CompiledQuery.raw(
      c.sql,
      c.parameters.map((x) => (x instanceof Slot ? v[x.name] : x)),
    ) as CompiledQuery<R>;
  };
  return {
    compile,
    fresh: (db, shape, values) => build(values, shape).compile(db),
    run: (db, shape, values) => db.executeQuery(compile(db, shape, values)),
  };
}

export interface MemoStatement<V, S, R> {
  /** Sends the statement with `values`. */
  run(db: Db, shape: S, values: V): Promise<QueryResult<R>>;
  /** What run() sends. */
  compile(db: Db, shape: S, values: V): CompiledQuery<R>;
  /** The statement built afresh from `values` (for tests: it must equal compile()'s). */
  fresh(db: Db, shape: S, values: V): CompiledQuery<R>;
}
