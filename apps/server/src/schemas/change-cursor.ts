import { invalid } from "../plugins/app/api-error.js";

/**
 * Change cursors of `GET /rollouts/:id/tasks?updatedSince=`. Opaque to clients: base64url of the time the
 * list was read (milliseconds). Decoding checks the shape, so a forged or truncated cursor is a 400.
 *
 * A delta returns what changed after the cursor's time *minus CHANGE_OVERLAP_MS*. Writers stamp
 * `updated_at` (and a waiting cause's `since`) with the control database's time as their replica measures
 * it (ControlClock, off by at most half a round trip) when their transaction starts, and the row becomes
 * visible only at commit: a write stamped just before a list was read can commit just after it. The
 * overlap re-sends what changed in that window (a client merges it idempotently), so such a write is never
 * missed unless its transaction stays open longer than the overlap (a full pending pass over 100,000 runs
 * takes ~4 s).
 */
export const CHANGE_OVERLAP_MS = 30_000;

export function encodeChangeCursor(readAt: Date): string {
  return Buffer.from(`u:${readAt.getTime()}`).toString("base64url");
}

/** The time from which a delta must report changes (the cursor's read time less the overlap). */
export function decodeChangeCursor(cursor: string): Date {
  const m = /^u:([0-9]{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m) throw invalid("querystring/updatedSince is not a cursor this API returned");
  return new Date(Number(m[1]) - CHANGE_OVERLAP_MS);
}
