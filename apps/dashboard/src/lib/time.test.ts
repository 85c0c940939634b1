import { describe, expect, it } from "vitest";
import { durationParts, relativeTime, runDurationMs } from "./time";

const now = new Date("2030-01-01T12:00:00Z");

describe("time", () => {
  it("says relative times in the user's language", () => {
    expect(relativeTime(new Date("2030-01-01T12:05:00Z"), now, "en")).toBe("in 5 minutes");
    expect(relativeTime("2030-01-01T09:00:00Z", now, "en")).toBe("3 hours ago");
    expect(relativeTime("2030-01-01T12:00:10Z", now, "en")).toBe("now");
    expect(relativeTime("2029-12-30T12:00:00Z", now, "es")).toBe("anteayer");
    expect(relativeTime("2030-01-01T12:05:00Z", now, "zh")).toBe("5分钟后");
    expect(relativeTime("2030-01-01T12:05:00Z", now, "ja")).toBe("5 分後");
  });

  it("splits durations for the messages", () => {
    expect(durationParts(400)).toEqual({ key: "duration.lessThanSecond", params: {} });
    expect(durationParts(42_000)).toEqual({ key: "duration.seconds", params: { s: 42 } });
    expect(durationParts(125_000)).toEqual({ key: "duration.minutes", params: { m: 2, s: 5 } });
    expect(durationParts(3_725_000)).toEqual({ key: "duration.hours", params: { h: 1, m: 2 } });
  });

  it("measures a running run up to now", () => {
    expect(runDurationMs(null, null, now)).toBeNull();
    expect(runDurationMs("2030-01-01T11:59:00Z", null, now)).toBe(60_000);
    expect(runDurationMs("2030-01-01T11:00:00Z", "2030-01-01T11:00:30Z", now)).toBe(30_000);
  });
});
