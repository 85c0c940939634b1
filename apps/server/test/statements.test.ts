import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { parseSync } from "libpg-query";
import {
  concurrentIndexName,
  loadStatementParser,
  parseStatements,
  planStatement,
  planStatements,
  runsOutsideTransaction,
  StatementSyntaxError,
} from "../src/domain/statements.js";
import { STATEMENT_CASES } from "./helpers/statement-cases.js";

// The parser loads on first need (domain/statements.ts); these tests call it synchronously.
await loadStatementParser();

describe("parseStatements: classification by PostgreSQL's parser", () => {
  it.each(STATEMENT_CASES)("$sql → $kind", ({ sql, kind, command }) => {
    const [s, ...rest] = parseStatements(sql);
    expect(rest).toEqual([]);
    expect({ kind: s!.kind, command: s!.command }).toEqual({ kind, command });
  });

  it("splits at top-level semicolons only, with each statement's text and 1-based character position", () => {
    const sql = "SELECT 'é;';  -- a comment; VACUUM\nDO $$ BEGIN COMMIT; END $$;\n\n  CREATE TABLE x (id int)";
    expect(parseStatements(sql).map((s) => [s.text, s.position, s.kind])).toEqual([
      ["SELECT 'é;'", 1, "TRANSACTIONAL"],
      ["DO $$ BEGIN COMMIT; END $$", sql.indexOf("DO") + 1, "TRANSACTIONAL"],
      ["CREATE TABLE x (id int)", sql.indexOf("CREATE") + 1, "TRANSACTIONAL"],
    ]);
    expect(parseStatements("   ")).toEqual([]);
    expect(parseStatements("-- nothing but a comment")).toEqual([]);
  });

  it("a syntax error carries PostgreSQL's message and 1-based position", () => {
    const err = (() => {
      try {
        parseStatements("SELECT 'é'; CREATE TABLE (");
      } catch (e) {
        return e;
      }
    })() as StatementSyntaxError;
    expect(err).toBeInstanceOf(StatementSyntaxError);
    expect(err.message).toBe('syntax error at or near "("');
    expect(err.position).toBe("SELECT 'é'; CREATE TABLE (".indexOf("(") + 1);
  });
});

describe("planStatement: what a task may contain and how it runs", () => {
  const S = TaskType.DATABASE_SCHEMA_UPDATE;
  it("transactional statements run in the run's transaction and are re-runnable", () => {
    expect(planStatement(S, "CREATE TABLE a (id int); INSERT INTO a VALUES (1)")).toEqual({
      plan: { statements: 2, runsInTransaction: true, rerunnable: true },
    });
  });
  it("a statement that cannot run in a transaction block runs alone, outside one, and is not re-runnable", () => {
    expect(planStatement(S, "CREATE INDEX CONCURRENTLY i ON t (a);")).toEqual({
      plan: { statements: 1, runsInTransaction: false, rerunnable: false },
    });
    expect(planStatement(TaskType.DATABASE_DATA_UPDATE, "-- weekly\nVACUUM t")).toEqual({
      plan: { statements: 1, runsInTransaction: false, rerunnable: false },
    });
  });
  it("DATABASE_CREATE runs outside a transaction but is re-runnable (it checks first)", () => {
    expect(planStatement(TaskType.DATABASE_CREATE, "")).toEqual({ plan: { statements: 0, runsInTransaction: false, rerunnable: true } });
    expect(planStatement(TaskType.DATABASE_CREATE, "CREATE DATABASE shop")).toEqual({
      plan: { statements: 1, runsInTransaction: false, rerunnable: true },
    });
  });
  it("refuses transaction control, naming the statement and where it is", () => {
    const r = planStatement(S, "BEGIN; CREATE TABLE part_a (id int); COMMIT; CREATE TABLE part_b (id int)");
    expect(r).toMatchObject({ refusal: { problem: "TRANSACTION_CONTROL", statement: "BEGIN", position: 1 } });
    expect((r as { refusal: { message: string } }).refusal.message).toMatch(/"BEGIN" at position 1 is transaction control \(BEGIN\)/);
    expect(planStatement(S, "CREATE TABLE zombie_write (id int); COMMIT")).toMatchObject({
      refusal: { problem: "TRANSACTION_CONTROL", statement: "COMMIT", position: 37 },
    });
    expect(planStatement(TaskType.DATABASE_CREATE, "COMMIT PREPARED 'x'")).toMatchObject({ refusal: { problem: "TRANSACTION_CONTROL" } });
  });
  it("refuses a statement that cannot run in a transaction block beside any other statement", () => {
    for (const sql of [
      "CREATE TABLE a (id int); CREATE INDEX CONCURRENTLY i ON a (id)",
      "SET lock_timeout = '1s'; VACUUM t",
      "VACUUM a; VACUUM b",
    ]) {
      expect(planStatement(S, sql), sql).toMatchObject({ refusal: { problem: "MUST_RUN_ALONE" } });
    }
    expect(planStatement(S, "CREATE TABLE a (id int); CREATE INDEX CONCURRENTLY i ON a (id)")).toMatchObject({
      refusal: { statement: "CREATE INDEX CONCURRENTLY i ON a (id)", position: 26 },
    });
  });
  it("refuses a text with nothing to run: a versioned task would be recorded applied having applied nothing", () => {
    for (const sql of ["-- the body went missing", " ; ;", "/* ALTER TABLE a ADD b int */ ;", "-- a\n-- b\n"]) {
      expect(planStatement(S, sql), sql).toMatchObject({ refusal: { problem: "NO_STATEMENT" } });
      expect(planStatement(TaskType.DATABASE_DATA_UPDATE, sql), sql).toMatchObject({ refusal: { problem: "NO_STATEMENT" } });
    }
    expect((planStatement(S, "--") as { refusal: { message: string } }).refusal.message).toMatch(/nothing to run/);
    expect(planStatement(S, "-- why\nSELECT 1")).toEqual({ plan: { statements: 1, runsInTransaction: true, rerunnable: true } });
  });
  it("a syntax error is a refusal with the parser's message and position", () => {
    expect(planStatement(S, "CREATE TABEL x (id int)")).toEqual({
      refusal: {
        problem: "SYNTAX_ERROR",
        message: 'syntax error at or near "TABEL" at position 8',
        position: 8,
        detail: 'syntax error at or near "TABEL"',
      },
    });
  });
  it("the executor reads the decision back from the run's rerunnable flag", () => {
    for (const sql of ["CREATE TABLE a (id int)", "CREATE INDEX CONCURRENTLY i ON t (a)", "VACUUM", "SELECT 1; SELECT 2"]) {
      const { plan } = planStatement(S, sql) as { plan: { runsInTransaction: boolean; rerunnable: boolean } };
      expect(runsOutsideTransaction({ type: S, rerunnable: plan.rerunnable }), sql).toBe(!plan.runsInTransaction);
    }
    expect(runsOutsideTransaction({ type: TaskType.DATABASE_CREATE, rerunnable: true })).toBe(true);
  });
});

describe("planStatements: cost at the size of a large rollout", () => {
  it("10,000 tasks: our work adds little to the parser's own; a repeated statement parses once", () => {
    const rollout = (tag: string) =>
      Array.from({ length: 10_000 }, (_, i) => ({
        type: TaskType.DATABASE_SCHEMA_UPDATE,
        statement: `ALTER TABLE ${tag}_${i} ADD COLUMN status text NOT NULL DEFAULT 'new';\nCREATE INDEX ${tag}_${i}_idx ON ${tag}_${i} (status) WHERE status <> 'done';\nUPDATE ${tag}_${i} SET status = 'x' WHERE id IN (SELECT id FROM ${tag}_${i} LIMIT 10)`,
      }));
    const time = (f: () => unknown) => {
      const t0 = performance.now();
      f();
      return performance.now() - t0;
    };
    // The first parses after start also compile the parser's WebAssembly (V8 compiles lazily, then tiers up).
    const first = rollout("a");
    let plans: ReturnType<typeof planStatements> = [];
    const coldMs = time(() => (plans = planStatements(first)));
    const warm = rollout("b");
    const parserMs = time(() => warm.forEach((t) => parseSync(t.statement)));
    const warmMs = time(() => planStatements(rollout("c")));
    const repeatedMs = time(() => planStatements(first.map((t) => ({ ...t, statement: first[0]!.statement }))));
    console.log(
      JSON.stringify({
        tasks: first.length,
        statementsPerTask: 3,
        coldMs: Math.round(coldMs),
        warmMs: Math.round(warmMs),
        parserOnlyMs: Math.round(parserMs),
        repeatedMs: Math.round(repeatedMs),
      }),
    );
    expect(plans.every((p) => "plan" in p && p.plan.statements === 3)).toBe(true);
    // Relative bounds, so a loaded machine does not fail them (absolute times are logged above; on a quiet
    // machine ~0.3 s warm and ~0.7 s cold for 10,000 distinct statements, ~2 ms repeated).
    expect(warmMs).toBeLessThan(parserMs * 3 + 200);
    expect(repeatedMs).toBeLessThan(warmMs / 4 + 50);
  });
});

describe("concurrentIndexName: the index an interrupted build may leave", () => {
  it.each([
    ["CREATE INDEX CONCURRENTLY big_idx ON big (id)", { schema: null, name: "big_idx" }],
    ['create unique index concurrently if not exists "Odd ""Idx""" on s1.t ((lower(x)))', { schema: "s1", name: 'Odd "Idx"' }],
    ["CREATE INDEX CONCURRENTLY Mixed_Case ON t (x)", { schema: null, name: "mixed_case" }],
    ["CREATE INDEX CONCURRENTLY ON t (x)", null],
    ["CREATE INDEX plain_idx ON t (x)", null],
    ["DROP INDEX CONCURRENTLY big_idx", null],
    ["VACUUM t", null],
    ["not sql at all", null],
  ])("%s → %o", (sql, index) => {
    expect(concurrentIndexName(sql)).toEqual(index);
  });
});
