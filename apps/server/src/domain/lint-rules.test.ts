import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { applySettings, fromSquawk, positionOf, runwayFindings, RunwayRule, severityOf, worstOf, type SquawkEntry } from "./lint-rules.js";
import { loadStatementParser } from "./statements.js";

// The parser loads on first need (domain/statements.ts); these tests call it synchronously.
await loadStatementParser();

const entry = (p: Partial<SquawkEntry>): SquawkEntry => ({
  file: "tx/0.sql",
  line: 0,
  column: 0,
  level: "Warning",
  message: "m",
  rule_name: "r",
  ...p,
});

describe("squawk's report mapped onto a task's statement", () => {
  it("0-based line and column become a 1-based position and a length", () => {
    const sql = "ALTER TABLE t ADD COLUMN c int;\nCREATE INDEX i ON t (c);";
    expect(positionOf(sql, { line: 1, column: 0, line_end: 1, column_end: 23 })).toEqual({ position: 33, length: 23 });
    expect(sql.slice(32, 32 + 23)).toBe("CREATE INDEX i ON t (c)");
    expect(positionOf(sql, { line: 0, column: 27, line_end: 0, column_end: 30 })).toEqual({ position: 28, length: 3 });
    // A finding spanning lines runs to its last line's column.
    expect(positionOf(sql, { line: 0, column: 0, line_end: 1, column_end: 6 })).toEqual({ position: 1, length: 38 });
    expect(positionOf(sql, { line: 9, column: 0 })).toEqual({});
  });

  it("levels become severities, and the worst wins", () => {
    expect([severityOf("Error"), severityOf("Warning"), severityOf("Hint")]).toEqual(["error", "warning", "info"]);
    const f = fromSquawk("SELECT 1", [
      entry({ level: "Warning" }),
      entry({ level: "Error", help: "h" }),
      entry({ level: "Info", help: null }),
    ]);
    expect(f.map((x) => x.severity)).toEqual(["warning", "error", "info"]);
    expect(f[1]).toMatchObject({ help: "h", source: "squawk" });
    expect(f[2]).not.toHaveProperty("help");
    expect(worstOf(f)).toBe("error");
    expect(worstOf([])).toBeNull();
  });

  it("project settings turn rules off or change their severity, over Runway's defaults", () => {
    const f = fromSquawk("SELECT 1", [
      entry({ rule_name: "require-statement-timeout" }),
      entry({ rule_name: "prefer-robust-stmts" }),
      entry({ rule_name: "require-concurrent-index-creation" }),
      entry({ rule_name: "ban-drop-column" }),
    ]);
    expect(applySettings(f, {}).map((x) => [x.rule, x.severity])).toEqual([
      ["prefer-robust-stmts", "info"],
      ["require-concurrent-index-creation", "warning"],
      ["ban-drop-column", "warning"],
    ]);
    expect(
      applySettings(f, {
        "require-statement-timeout": "warning",
        "require-concurrent-index-creation": "error",
        "ban-drop-column": "off",
      }).map((x) => [x.rule, x.severity]),
    ).toEqual([
      ["require-statement-timeout", "warning"],
      ["prefer-robust-stmts", "info"],
      ["require-concurrent-index-creation", "error"],
    ]);
  });
});

describe("Runway's own rules", () => {
  const rules = (type: TaskType, statement: string, schemaVersion: string | null = null) =>
    runwayFindings({ type, statement, schemaVersion }).map((f) => f.rule);

  it("a sequential schema change without a schema version", () => {
    expect(rules(TaskType.DATABASE_SCHEMA_UPDATE, "ALTER TABLE t ADD COLUMN c int")).toEqual([RunwayRule.SEQUENTIAL_WITHOUT_VERSION]);
    expect(rules(TaskType.DATABASE_SDL, "CREATE TABLE t (id int)")).toEqual([RunwayRule.SEQUENTIAL_WITHOUT_VERSION]);
    expect(rules(TaskType.DATABASE_SCHEMA_UPDATE, "ALTER TABLE t ADD COLUMN c int", "0007")).toEqual([]);
    expect(rules(TaskType.DATABASE_DATA_UPDATE, "UPDATE t SET c = 1")).toEqual([]);
    expect(rules(TaskType.DATABASE_CREATE, "")).toEqual([]);
  });

  it("transactional and non-transactional parts in one task, with the offending statement's place", () => {
    const sql = "UPDATE t SET c = 1;\nCREATE INDEX CONCURRENTLY i ON t (c)";
    const [f] = runwayFindings({ type: TaskType.DATABASE_DATA_UPDATE, statement: sql });
    expect(f).toMatchObject({ rule: RunwayRule.MIXED_TRANSACTION, severity: "error", position: 21 });
    expect(sql.slice(f!.position! - 1, f!.position! - 1 + f!.length!)).toBe("CREATE INDEX CONCURRENTLY i ON t (c)");
  });

  it("a statement alone outside a transaction: cannot be dry-run, not re-runnable", () => {
    expect(rules(TaskType.DATABASE_DATA_UPDATE, "VACUUM t")).toEqual([RunwayRule.NO_TRANSACTION]);
    expect(rules(TaskType.DATABASE_DATA_UPDATE, "REINDEX INDEX CONCURRENTLY i")).toEqual([RunwayRule.NO_TRANSACTION]);
    expect(rules(TaskType.DATABASE_DATA_UPDATE, "REINDEX INDEX i")).toEqual([]);
  });

  it("a statement that does not parse has none (creation refuses it anyway)", () => {
    expect(rules(TaskType.DATABASE_SCHEMA_UPDATE, "CREATE TABEL x")).toEqual([]);
  });
});
