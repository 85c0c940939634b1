import { describe, expect, it } from "vitest";
import { makeTask } from "../../test/fake-api";
import { countByStatus, emptyCounts, finishedOf, parseStatusQuery, totalOf } from "./task-counts";

describe("task counts", () => {
  it("counts every status, zeros included", () => {
    const c = countByStatus([
      makeTask(1, { status: "AVAILABLE" }),
      makeTask(2, { status: "AVAILABLE" }),
      makeTask(3, { status: "SKIPPED" }),
    ]);
    expect(c).toEqual({ NOT_STARTED: 0, PENDING: 0, AVAILABLE: 2, RUNNING: 0, DONE: 0, FAILED: 0, CANCELED: 0, SKIPPED: 1 });
    expect(totalOf(c)).toBe(3);
    expect(finishedOf({ ...emptyCounts(), DONE: 4, SKIPPED: 1, FAILED: 2 })).toBe(5);
  });

  it("reads the status filter from the URL, in display order, dropping junk", () => {
    expect(parseStatusQuery(["PENDING", "AVAILABLE"])).toEqual(["PENDING", "AVAILABLE"]);
    expect(parseStatusQuery("RUNNING,AVAILABLE")).toEqual(["AVAILABLE", "RUNNING"]);
    expect(parseStatusQuery(["nope", null])).toEqual([]);
    expect(parseStatusQuery(undefined)).toEqual([]);
  });
});
