import { describe, expect, it } from "vitest";
import { emptyCounts } from "./task-counts";
import { addIncreases, countIncreases } from "./live-summary";

describe("live summary", () => {
  it("counts what arrived in each announced status, not what left", () => {
    const before = { ...emptyCounts(), RUNNING: 4, PENDING: 5 };
    const after = { ...emptyCounts(), RUNNING: 1, PENDING: 4, DONE: 3, FAILED: 1 };
    expect(countIncreases(before, after)).toEqual({ DONE: 3, FAILED: 1 });
  });

  it("adds bursts that arrive before the announcement", () => {
    expect(addIncreases({ DONE: 2 }, { DONE: 1, FAILED: 1 })).toEqual({ DONE: 3, FAILED: 1 });
  });
});
