import { describe, expect, it } from "vitest";
import { ApiError } from "@/api/http";
import { createAppI18n } from "@/i18n";
import { lineAndColumn, refusalLine, readRefusals } from "./statement-refusals";

const invalid = (details: unknown) => new ApiError(400, "INVALID_ARGUMENT", "…", details);

describe("statement refusals", () => {
  it("reads a release's refused files and a rollout's refused tasks; anything else is not one", () => {
    expect(
      readRefusals(
        invalid({
          reason: "RELEASE_STATEMENT",
          refused: 25,
          files: [
            { file: "V2__typo.sql", problem: "SYNTAX_ERROR", position: 33, detail: 'syntax error at or near "TABEL"', message: "…" },
            { file: "R__todo.sql", problem: "NO_STATEMENT", message: "…" },
          ],
        }),
      ),
    ).toEqual({
      refused: 25,
      list: [
        { file: "V2__typo.sql", problem: "SYNTAX_ERROR", position: 33, detail: 'syntax error at or near "TABEL"' },
        { file: "R__todo.sql", problem: "NO_STATEMENT" },
      ],
    });
    expect(
      readRefusals(invalid({ errors: [{ task: "stages/0/tasks/3", problem: "TRANSACTION_CONTROL", statement: "COMMIT", position: 1 }] })),
    ).toEqual({ refused: 1, list: [{ task: 3, problem: "TRANSACTION_CONTROL", statement: "COMMIT", position: 1 }] });
    expect(
      readRefusals(
        invalid({ reason: "RELEASE_FILE", file: "V001__c.sql", problem: "DUPLICATE_VERSION", other: "V1__a.sql", version: "001" }),
      ),
    ).toEqual({ refused: 1, list: [{ file: "V001__c.sql", problem: "DUPLICATE_VERSION", other: "V1__a.sql", version: "001" }] });
    // An upload refused as a whole (no file) keeps the generic sentence.
    expect(readRefusals(invalid({ reason: "RELEASE_FILE", problem: "ARCHIVE" }))).toBeNull();
    // A body that failed the schema has errors without a problem; other codes are other sentences.
    expect(readRefusals(invalid({ errors: [{ path: "body/title", message: "must not be blank" }] }))).toBeNull();
    expect(readRefusals(new ApiError(409, "CONFLICT", "…", { files: [{ problem: "SYNTAX_ERROR" }] }))).toBeNull();
    expect(readRefusals(new Error("x"))).toBeNull();
  });

  it("a position in characters is a line and column, counting characters beyond the BMP as one", () => {
    expect(lineAndColumn("CREATE TABEL x", 8)).toEqual({ line: 1, column: 8 });
    // "-- 🚀\n" is 5 characters (the rocket is two UTF-16 units), "CREATE " 7 more: TABEL starts at 13.
    expect(lineAndColumn("-- 🚀\nCREATE TABEL b (id int)", 13)).toEqual({ line: 2, column: 8 });
    expect(lineAndColumn("a\n\nb", 4)).toEqual({ line: 3, column: 1 });
  });

  it("says where and why in each language", () => {
    const i18n = createAppI18n("en");
    const t = i18n.global.t as (k: string, v?: Record<string, unknown>) => string;
    const typo = { file: "V2__typo.sql", problem: "SYNTAX_ERROR", position: 33, detail: 'syntax error at or near "TABEL"' };
    const source = "CREATE TABLE a (id int);\nCREATE TABEL b (id int)";
    expect(refusalLine(t, typo, "V2__typo.sql", source)).toBe(
      'V2__typo.sql, line 2, column 8: PostgreSQL cannot parse it (syntax error at or near "TABEL").',
    );
    expect(refusalLine(t, { problem: "NO_STATEMENT" }, "R__todo.sql", "-- later")).toBe(
      "R__todo.sql: It holds only comments: there is nothing to run.",
    );
    expect(refusalLine(t, { problem: "SOMETHING_NEW", position: 1 }, "x.sql")).toBe("x.sql: Refused (SOMETHING_NEW).");
    expect(refusalLine(t, { problem: "DUPLICATE_VERSION", other: "V1__a.sql", version: "001" }, "V001__c.sql")).toBe(
      "V001__c.sql: V1__a.sql has the same version (001); each version must be unique.",
    );
    i18n.global.locale.value = "ja";
    expect(
      refusalLine(t, { problem: "TRANSACTION_CONTROL", statement: "COMMIT", position: 26 }, "V3.sql", "CREATE TABLE c (id int); COMMIT"),
    ).toMatch(/^V3\.sql、1 行 26 列：COMMIT はトランザクションを/);
  });
});
