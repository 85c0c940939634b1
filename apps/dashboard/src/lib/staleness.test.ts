import { describe, expect, it } from "vitest";
import { retryDelayMs, sameDay, staleness } from "./staleness";

const at = new Date("2030-01-01T05:52:00Z");

describe("staleness", () => {
  it("is not stale before anything loaded, nor while live with a good refresh", () => {
    expect(staleness({ syncedAt: null, refreshFailed: true, live: "reconnecting", streamLostAt: null })).toEqual({
      stale: false,
      doing: null,
      asOf: null,
    });
    expect(staleness({ syncedAt: at, refreshFailed: false, live: "live", streamLostAt: null })).toEqual({
      stale: false,
      doing: null,
      asOf: at,
    });
    expect(staleness({ syncedAt: at, refreshFailed: false, live: "connecting", streamLostAt: null }).stale).toBe(false);
  });

  it("is stale while the stream reconnects, naming the last good data", () => {
    expect(staleness({ syncedAt: at, refreshFailed: false, live: "reconnecting", streamLostAt: at })).toEqual({
      stale: true,
      doing: "reconnecting",
      asOf: at,
    });
    // Both at once: reconnecting says more (the retry follows the stream's return).
    expect(staleness({ syncedAt: at, refreshFailed: true, live: "reconnecting", streamLostAt: null }).doing).toBe("reconnecting");
  });

  it("stays stale after the stream is back until the catch-up lands", () => {
    const lost = new Date(at.getTime() + 60_000);
    expect(staleness({ syncedAt: at, refreshFailed: false, live: "live", streamLostAt: lost })).toEqual({
      stale: true,
      doing: "reconnecting",
      asOf: at,
    });
    const caughtUp = new Date(lost.getTime() + 1000);
    expect(staleness({ syncedAt: caughtUp, refreshFailed: false, live: "live", streamLostAt: lost }).stale).toBe(false);
  });

  it("is stale after a failed refresh with the stream up, and retries", () => {
    expect(staleness({ syncedAt: at, refreshFailed: true, live: "live", streamLostAt: null })).toEqual({
      stale: true,
      doing: "retrying",
      asOf: at,
    });
  });

  it("backs off 1 s, 2 s, 4 s … up to 15 s", () => {
    expect([0, 1, 2, 3, 4, 10].map((n) => retryDelayMs(n))).toEqual([1000, 2000, 4000, 8000, 15_000, 15_000]);
  });

  it("tells the calendar day in the user's time zone", () => {
    const late = new Date("2030-01-01T23:30:00Z");
    const next = new Date("2030-01-02T00:30:00Z");
    expect(sameDay(late, next, "UTC")).toBe(false);
    expect(sameDay(late, next, "Asia/Tokyo")).toBe(true); // 08:30 and 09:30 on 2 January there
  });
});
