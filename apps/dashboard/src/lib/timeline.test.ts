import { describe, expect, it } from "vitest";
import { makeRun, makeTask } from "../../test/fake-api";
import { buildTimeline } from "./timeline";

const at = (s: number) => `2030-01-01T10:00:${String(s).padStart(2, "0")}.000Z`;
const ms = (s: number) => new Date(at(s)).getTime();

describe("timeline", () => {
  it("puts runs in one lane per database with wait and execution bars", () => {
    const tasks = [
      makeTask(1, {
        database: "a",
        status: "DONE",
        latestRun: makeRun("1", { status: "DONE", createdAt: at(0), startedAt: at(2), finishedAt: at(5) }),
      }),
      makeTask(2, {
        database: "b",
        status: "RUNNING",
        latestRun: makeRun("2", { status: "RUNNING", createdAt: at(1), startedAt: at(1), finishedAt: null }),
      }),
      makeTask(3, { database: "a", status: "PENDING", latestRun: makeRun("3", { status: "PENDING", createdAt: at(3) }) }),
      makeTask(4, { database: "c" }),
    ];
    const data = buildTimeline(tasks, ms(10));
    expect(data.lanes).toEqual(["a", "b"]);
    expect(data.bars).toEqual([
      { lane: 0, track: 0, start: ms(0), end: ms(2), taskId: "1", status: "DONE", kind: "wait" },
      { lane: 0, track: 0, start: ms(2), end: ms(5), taskId: "1", status: "DONE", kind: "exec" },
      { lane: 1, track: 0, start: ms(1), end: ms(10), taskId: "2", status: "RUNNING", kind: "exec" },
      { lane: 0, track: 1, start: ms(3), end: ms(10), taskId: "3", status: "PENDING", kind: "wait" },
    ]);
    // Task 3 waits while task 1 still runs: a second track in lane "a".
    expect(data.tracks).toEqual([2, 1]);
    expect([data.min, data.max]).toEqual([ms(0), ms(10)]);
  });

  it("reuses a track once its run is over", () => {
    const data = buildTimeline(
      [
        makeTask(1, { database: "a", latestRun: makeRun("1", { status: "DONE", createdAt: at(0), startedAt: at(0), finishedAt: at(2) }) }),
        makeTask(2, { database: "a", latestRun: makeRun("2", { status: "DONE", createdAt: at(3), startedAt: at(3), finishedAt: at(4) }) }),
      ],
      ms(10),
    );
    expect(data.bars.map((b) => b.track)).toEqual([0, 0]);
    expect(data.tracks).toEqual([1]);
  });

  it("names lanes by instance when two instances share a database name", () => {
    const run = makeRun("x", { createdAt: at(0) });
    const data = buildTimeline(
      [
        makeTask(1, { instanceId: "eu", database: "app", latestRun: run }),
        makeTask(2, { instanceId: "us", database: "app", latestRun: run }),
      ],
      ms(5),
    );
    expect(data.lanes).toEqual(["eu/app", "us/app"]);
  });
});
