import { sql } from "kysely";
import type { Db } from "./db.js";

/**
 * Reads the control database's clock once (`clock_timestamp()`: the moment the statement runs, not the
 * start of its transaction). The round trip is timed on a connection already taken from the pool, so
 * waiting for a connection does not count as network delay.
 */
/** One reading of the source clock: its time, and the local times the question left and the answer came. */
export interface ClockSample {
  sentAt: number;
  sourceAt: number;
  receivedAt: number;
}

export async function controlClockRead(db: Db, local: () => number): Promise<ClockSample> {
  return db.connection().execute(async (conn) => {
    const sentAt = local();
    const { rows } = await sql<{ ms: number }>`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`.execute(conn);
    const receivedAt = local();
    return { sentAt, sourceAt: rows[0]!.ms, receivedAt };
  });
}
