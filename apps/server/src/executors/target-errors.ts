import pg from "pg";

/**
 * Whose fault a target error is. Only an error the server sent in reply to our statement (a
 * DatabaseError with a five-character SQLSTATE) can be the statement's fault. Node's socket errors carry
 * a string `code` too (ECONNREFUSED, ECONNRESET, ETIMEDOUT, and EPIPE has five letters), and pg's own
 * failures (a timeout, "Connection terminated unexpectedly") carry none: all of those are the network's,
 * and never fail a run.
 */

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function sqlState(e: unknown): string | undefined {
  return e instanceof pg.DatabaseError && typeof e.code === "string" && SQLSTATE.test(e.code) ? e.code : undefined;
}

/**
 * SQLSTATEs the server sends when the session or the server goes away rather than refusing a statement:
 * class 08 (connection exception), 57P01–57P05 (terminated by an administrator or a fence, crash or
 * fast shutdown, starting up, database dropped, idle-session timeout), 25P03 (the idle-in-transaction
 * bound ending a slow owner's session), and class 53 at connect time (too many connections, out of memory).
 */
function isSessionLossState(code: string, connecting: boolean): boolean {
  return code.startsWith("08") || /^57P0[1-5]$/.test(code) || code === "25P03" || (connecting && code.startsWith("53"));
}

/** `statement`: the run FAILs with the server's error. `session`: the target was unreachable or the session was lost. */
export function classify(e: unknown, connecting: boolean): "statement" | "session" {
  const code = sqlState(e);
  return code !== undefined && !isSessionLossState(code, connecting) ? "statement" : "session";
}

/**
 * Whether a run's recorded `result.error.code` names the statement's own error rather than a lost session:
 * `classify` for a code read back from a run, where the error's class is gone. Our own codes (TargetFault's),
 * a socket's (ECONNRESET; EPIPE has five letters, but no PostgreSQL class begins with E) and the
 * session-loss SQLSTATEs are not the statement's.
 */
export function isStatementErrorCode(code: string | undefined): boolean {
  return code !== undefined && SQLSTATE.test(code) && !/^E[A-Z]{4}$/.test(code) && !isSessionLossState(code, false);
}

/** Errors of our own making below the SQL layer, with a stable code for result.error. */
export class TargetFault extends Error {
  constructor(
    readonly code: "CONNECT_TIMEOUT" | "QUERY_TIMEOUT" | "CANCEL_UNDELIVERED" | "COMMIT_UNKNOWN" | "LEASE_LOST" | "CANCELED_BEFORE_START",
    message: string,
  ) {
    super(message);
  }
}

interface PgErrorFields {
  code?: string;
  position?: string;
  detail?: string;
  hint?: string;
  where?: string;
}

/** `{ error: { message, code?, … } }` for an outcome's result. */
export function errorResult(e: unknown): Record<string, unknown> {
  const err = e as Error & PgErrorFields;
  let code = err.code;
  // pg reports its own timeouts without a code; name them so the API can show why the run waits.
  if (!code && /timeout (expired|exceeded)|connection timeout/i.test(err.message)) code = "CONNECT_TIMEOUT";
  if (!code && /query read timeout/i.test(err.message)) code = "QUERY_TIMEOUT";
  return {
    error: {
      message: err.message,
      ...(code ? { code } : {}),
      ...(err.position ? { position: Number(err.position) } : {}),
      ...(err.detail ? { detail: err.detail } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
      ...(err.where ? { where: err.where } : {}),
    },
  };
}
