/**
 * Whether what the page shows may be out of date, and what is being done about it. Pure: the store
 * feeds it the live connection's state and the outcome of the last refresh (stores/freshness.ts).
 */
export type LiveConnection = "idle" | "connecting" | "live" | "reconnecting";

export interface StalenessInput {
  /** When data last arrived in full (the load or a catch-up); null before the first. */
  syncedAt: Date | null;
  /** The last refresh failed (and none succeeded since). */
  refreshFailed: boolean;
  live: LiveConnection;
  /** When the live stream was last lost (null: never): what changed meanwhile arrives only with the catch-up after it. */
  streamLostAt: Date | null;
}

export interface Staleness {
  stale: boolean;
  /** What the page is doing to get fresh data again: the stream reconnects, or the refresh is retried. */
  doing: "reconnecting" | "retrying" | null;
  /** The time of the last good data (what the banner names). */
  asOf: Date | null;
}

export function staleness(input: StalenessInput): Staleness {
  // Nothing shown yet is not stale: the page shows its loading or not-found state instead.
  if (input.syncedAt === null) return { stale: false, doing: null, asOf: null };
  if (input.live === "reconnecting") return { stale: true, doing: "reconnecting", asOf: input.syncedAt };
  if (input.refreshFailed) return { stale: true, doing: "retrying", asOf: input.syncedAt };
  // The stream is back but the catch-up has not landed yet: still the old data.
  if (input.streamLostAt !== null && input.syncedAt.getTime() <= input.streamLostAt.getTime())
    return { stale: true, doing: "reconnecting", asOf: input.syncedAt };
  return { stale: false, doing: null, asOf: input.syncedAt };
}

/** Backoff for retrying a failed refresh: 1 s, 2 s, 4 s … at most 15 s. */
export function retryDelayMs(attempt: number, minMs = 1000, maxMs = 15_000): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, attempt));
}

/** Whether two instants fall on the same calendar day in a time zone (the banner then names the time alone). */
export function sameDay(a: Date, b: Date, timeZone: string): boolean {
  const day = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  return day.format(a) === day.format(b);
}
