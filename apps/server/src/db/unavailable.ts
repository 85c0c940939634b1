/** pg's messages for a connection that died, timed out or could not be had (pg, pg-pool). */
const CONNECTION_MESSAGES =
  /^(Query read timeout|timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|control database did not answer)/;
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * The control database is unreachable, restarting or too slow (the bounds of store/db.ts fired), as
 * opposed to refusing what was asked: a socket error, class 08 (connection exception), 57P0x (a server
 * shutting down or starting up), 57014 (the session's statement_timeout), or one of pg's own messages for
 * a lost connection. The API answers these with 503; start-up waits them out (db/startup-retry.ts).
 */
export function isControlUnavailable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (SOCKET_CODES.has(code) || code.startsWith("08") || code.startsWith("57P") || code === "57014"))
    return true;
  return typeof message === "string" && CONNECTION_MESSAGES.test(message);
}
