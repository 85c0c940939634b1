import { describe, expect, it } from "vitest";
import { splitSql, splitSqlAt } from "./sql-split";

describe("splitSql", () => {
  it("splits at top-level semicolons and drops empty statements", () => {
    expect(splitSql("CREATE TABLE a (id int);\n\nALTER TABLE a ADD b text;;  ")).toEqual([
      "CREATE TABLE a (id int)",
      "ALTER TABLE a ADD b text",
    ]);
  });

  it("keeps semicolons inside strings, identifiers, comments and dollar-quoted bodies", () => {
    const fn = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END $body$ LANGUAGE plpgsql";
    const sql = `INSERT INTO t VALUES ('a;b', 'it''s; ok');\n-- a comment; still a comment\nSELECT "x;y" FROM t /* c; /* nested; */ c */;\n${fn};\nDO $$ BEGIN PERFORM 1; END $$;SELECT E'\\';'`;
    expect(splitSql(sql)).toEqual([
      "INSERT INTO t VALUES ('a;b', 'it''s; ok')",
      '-- a comment; still a comment\nSELECT "x;y" FROM t /* c; /* nested; */ c */',
      fn,
      "DO $$ BEGIN PERFORM 1; END $$",
      "SELECT E'\\';'",
    ]);
  });

  it("drops comment-only pieces", () => {
    expect(splitSql("-- nothing here\n;  /* nor here */")).toEqual([]);
  });
  it("says where each statement starts in the pasted text", () => {
    const sql = "  SELECT 1;\n-- note\nSELECT ';' ;\n\n  SELECT 3";
    expect(splitSqlAt(sql)).toEqual([
      { text: "SELECT 1", start: 2 },
      { text: "-- note\nSELECT ';'", start: 12 },
      { text: "SELECT 3", start: 36 },
    ]);
    for (const s of splitSqlAt(sql)) expect(sql.slice(s.start, s.start + s.text.length)).toBe(s.text);
  });
});
