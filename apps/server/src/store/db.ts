import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { DB } from "./schema.js";

export type Db = Kysely<DB>;

// bigint ids come back as strings (int8 exceeds JS numbers in principle); counts are cast where used.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export function createPool(url: string, max = 10, applicationName = "runway"): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: applicationName });
  // A client losing its connection must not crash the process: idle ones are replaced by the pool, and a
  // checked-out one (e.g. ended by idle_in_transaction_session_timeout after this process was paused)
  // fails its pending query, which the caller sees.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

export function createDb(pool: pg.Pool): Db {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Notification channels. Payloads are small JSON; NOTIFY is delivered only after commit. */
export const Channel = {
  /** Something a PENDING run's gates depend on changed: pending schedulers should run a pass. */
  PENDING: "runway_pending",
  /** Runs became AVAILABLE: running schedulers should claim. */
  AVAILABLE: "runway_available",
  /** A RUNNING run's cancel was requested; payload {runId}. */
  CANCEL: "runway_cancel",
  /** Tasks or runs changed; payload {rolloutId}; feeds the SSE endpoint. */
  CHANGE: "runway_change",
  /** A user's sessions, tokens, role or disabled flag changed; payload {username}. Open SSE streams re-check. */
  AUTH: "runway_auth",
} as const;
