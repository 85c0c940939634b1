import { describe, expect, it } from "vitest";
import { makeRun, makeTask } from "../../test/fake-api";
import { barRect, fitScale, MAX_PX_PER_MS, taskSegments, ticks, timelineRows, timeSpan, zoomAt } from "./timeline";

const at = (s: number) => `2030-01-01T10:00:${String(s).padStart(2, "0")}.000Z`;
const ms = (s: number) => new Date(at(s)).getTime();

const tasks = [
  makeTask(1, {
    database: "a",
    stageId: "s1",
    status: "DONE",
    latestRun: makeRun("1", { status: "DONE", createdAt: at(0), startedAt: at(2), finishedAt: at(5) }),
  }),
  makeTask(2, {
    database: "b",
    stageId: "s2",
    status: "RUNNING",
    latestRun: makeRun("2", { status: "RUNNING", createdAt: at(1), startedAt: at(1), finishedAt: null }),
  }),
  makeTask(3, { database: "a", stageId: "s2", status: "PENDING", latestRun: makeRun("3", { status: "PENDING", createdAt: at(3) }) }),
  makeTask(4, { database: "c", stageId: "s1" }),
  makeTask(5, {
    database: "b",
    stageId: "s1",
    status: "FAILED",
    latestRun: makeRun("5", { status: "FAILED", createdAt: at(4), startedAt: at(4), finishedAt: at(4) }),
  }),
];
const stages = [
  { id: "s1", environment: "staging" },
  { id: "s2", environment: "prod" },
];

describe("timeline bars", () => {
  it("splits a run into its wait and its execution; unfinished ones end now", () => {
    expect(taskSegments(tasks[0]!, ms(10))).toEqual([
      { start: ms(0), end: ms(2), kind: "wait", status: "DONE" },
      { start: ms(2), end: ms(5), kind: "exec", status: "DONE" },
    ]);
    expect(taskSegments(tasks[1]!, ms(10))).toEqual([{ start: ms(1), end: ms(10), kind: "exec", status: "RUNNING" }]);
    expect(taskSegments(tasks[2]!, ms(10))).toEqual([{ start: ms(3), end: ms(10), kind: "wait", status: "PENDING" }]);
    expect(taskSegments(tasks[3]!, ms(10))).toEqual([]);
  });

  it("keeps a zero-length failure visible and wider than other bars at any zoom", () => {
    const [fail] = taskSegments(tasks[4]!, ms(10));
    expect(barRect(fail!, ms(0), 0.000001)).toEqual({ left: expect.any(Number), width: 6 });
    expect(barRect({ start: ms(0), end: ms(0), kind: "exec", status: "DONE" }, ms(0), 1).width).toBe(2);
    expect(barRect({ start: ms(1), end: ms(3), kind: "exec", status: "DONE" }, ms(0), 0.01)).toEqual({ left: 10, width: 20 });
  });
});

describe("timeline rows", () => {
  it("groups by stage in rollout order with counts and failures; collapsed groups hide their tasks", () => {
    const rows = timelineRows(tasks, { groupBy: "stage", stages, collapsed: new Set(), now: ms(10) });
    expect(rows.map((r) => (r.kind === "group" ? `[${r.label} ${r.count}/${r.failed}]` : r.key))).toEqual([
      "[1. staging 2/1]",
      "1",
      "5",
      "[2. prod 2/0]",
      "2",
      "3",
    ]);
    const folded = timelineRows(tasks, { groupBy: "stage", stages, collapsed: new Set(["stage:s1"]), now: ms(10) });
    expect(folded.map((r) => r.key)).toEqual(["stage:s1", "stage:s2", "2", "3"]);
  });

  it("groups by database by name", () => {
    const rows = timelineRows(tasks, { groupBy: "database", stages, collapsed: new Set(), now: ms(10) });
    expect(rows.filter((r) => r.kind === "group").map((r) => r.key)).toEqual(["db:pg-main/a", "db:pg-main/b"]);
  });
});

describe("timeline scale", () => {
  it("fits the span into the width, padded, and zooms about the pointer", () => {
    const span = timeSpan(tasks, ms(10));
    expect(span.min).toBeLessThan(ms(0));
    expect(span.max).toBeGreaterThan(ms(10));
    const px = fitScale(span, 1000);
    expect((span.max - span.min) * px).toBeCloseTo(1000);
    // The time under x=300 stays under x=300.
    const z = zoomAt({ pxPerMs: 0.1, scrollLeft: 200, anchorPx: 300, factor: 2 });
    expect(z.pxPerMs).toBe(0.2);
    expect((z.scrollLeft + 300) / z.pxPerMs).toBeCloseTo((200 + 300) / 0.1);
    expect(zoomAt({ pxPerMs: MAX_PX_PER_MS, scrollLeft: 0, anchorPx: 0, factor: 4 }).pxPerMs).toBe(MAX_PX_PER_MS);
  });

  it("puts ticks at round steps about 110 px apart", () => {
    // At 0.05 px/ms a 2 s step is 100 px (too close), so the step is 5 s.
    expect(ticks({ min: ms(0) + 500, max: ms(9) }, 0.05)).toEqual([ms(5)]);
    const t = ticks({ min: 0, max: 3_600_000 }, 110 / 60_000);
    expect(t[1]! - t[0]!).toBe(60_000);
  });
});
