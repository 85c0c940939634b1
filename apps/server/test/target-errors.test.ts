import pg from "pg";
import { describe, expect, it } from "vitest";
import { classify, errorResult, isStatementErrorCode, sqlState } from "../src/executors/target-errors.js";

/** Whose fault a target error is (bug 1 of issue 10): only the server's SQLSTATE for the statement fails a run. */

const nodeError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -1, syscall: "connect" });
const serverError = (code: string) => Object.assign(new pg.DatabaseError(`server says ${code}`, 0, "error"), { code });

describe("target error classification", () => {
  it("Node socket errors are never SQLSTATEs, not even five-letter ones", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"]) {
      expect(sqlState(nodeError(code))).toBeUndefined();
      expect(classify(nodeError(code), false)).toBe("session");
      expect(classify(nodeError(code), true)).toBe("session");
    }
    expect(classify(new Error("Connection terminated unexpectedly"), false)).toBe("session");
    expect(classify(new Error("Query read timeout"), false)).toBe("session");
  });

  it("the server's connection-loss states are the session's, everything else the statement's", () => {
    for (const code of ["08006", "08003", "57P01", "57P02", "57P03", "25P03"]) expect(classify(serverError(code), false)).toBe("session");
    for (const code of ["42P01", "42703", "23505", "57014", "40001", "22012"]) expect(classify(serverError(code), false)).toBe("statement");
    // Too many connections is the target being busy at connect time, not the statement.
    expect(classify(serverError("53300"), true)).toBe("session");
    // A wrong password or a missing database will not fix itself by waiting.
    expect(classify(serverError("28P01"), true)).toBe("statement");
  });

  it("a code read back from a run's result is judged as classify judged its error", () => {
    for (const code of ["57P01", "57P02", "08006", "25P03", "EPIPE", "ECONNRESET", "QUERY_TIMEOUT", "LEASE_LOST", undefined])
      expect(isStatementErrorCode(code)).toBe(false);
    for (const code of ["42P01", "23505", "57014", "40001"]) expect(isStatementErrorCode(code)).toBe(true);
  });

  it("result.error names pg's own timeouts", () => {
    expect(errorResult(new Error("timeout exceeded when trying to connect"))).toEqual({
      error: { message: "timeout exceeded when trying to connect", code: "CONNECT_TIMEOUT" },
    });
    expect(errorResult(new Error("Query read timeout"))).toMatchObject({ error: { code: "QUERY_TIMEOUT" } });
    expect(errorResult(nodeError("ECONNRESET"))).toMatchObject({ error: { code: "ECONNRESET" } });
  });
});
