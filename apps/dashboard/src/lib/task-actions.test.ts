import { TASK_STATUS_ORDER } from "@runway/shared";
import { describe, expect, it } from "vitest";
import { makeRun, makeTask } from "../../test/fake-api";
import { actionsFor, confirmLines, partition } from "./task-actions";

const withStatus = (id: number, status: (typeof TASK_STATUS_ORDER)[number]) =>
  makeTask(id, {
    status,
    ...(status === "NOT_STARTED" || status === "SKIPPED" ? {} : { latestRun: makeRun(String(id), { status: status as never }) }),
  });

describe("task actions", () => {
  it("offers each action only in the statuses that allow it", () => {
    const offered = Object.fromEntries(TASK_STATUS_ORDER.map((s, i) => [s, actionsFor(withStatus(i, s))]));
    expect(offered).toEqual({
      NOT_STARTED: ["run", "skip"],
      PENDING: ["cancel"],
      AVAILABLE: ["cancel"],
      RUNNING: ["cancel"],
      DONE: [],
      FAILED: ["retry", "skip"],
      CANCELED: ["retry", "skip"],
      SKIPPED: [],
    });
  });

  it("cannot cancel a task whose run it does not know", () => {
    expect(actionsFor(makeTask(1, { status: "RUNNING" }))).toEqual([]);
  });

  it("splits a selection into eligible and unchanged tasks", () => {
    const tasks = [withStatus(1, "NOT_STARTED"), withStatus(2, "DONE"), withStatus(3, "FAILED")];
    const { eligible, ineligible } = partition("skip", tasks);
    expect(eligible.map((t) => t.id)).toEqual(["1", "3"]);
    expect(ineligible.map((t) => t.id)).toEqual(["2"]);
  });

  it("says that running statements are aborted and rolled back", () => {
    const tasks = [withStatus(1, "RUNNING"), withStatus(2, "PENDING"), withStatus(3, "AVAILABLE"), withStatus(4, "DONE")];
    expect(confirmLines("cancel", tasks)).toEqual([
      { key: "confirm.cancelWaiting", count: 2 },
      { key: "confirm.cancelRunning", count: 1 },
      { key: "confirm.ineligible", count: 1 },
    ]);
  });

  it("describes a scheduled run differently from a run now", () => {
    const tasks = [withStatus(1, "NOT_STARTED")];
    expect(confirmLines("run", tasks)).toEqual([{ key: "confirm.run", count: 1 }]);
    expect(confirmLines("run", tasks, true)).toEqual([{ key: "confirm.schedule", count: 1 }]);
    expect(confirmLines("retry", tasks)).toEqual([{ key: "confirm.ineligible", count: 1 }]);
  });
});
