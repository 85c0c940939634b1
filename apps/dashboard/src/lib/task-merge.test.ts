import { describe, expect, it } from "vitest";
import { makeRun, makeTask } from "../../test/fake-api";
import { mergeTasks, sameTask } from "./task-merge";

const list = () => [makeTask(1), makeTask(2), makeTask(3)];
const indexOf = (tasks: { id: string }[]) => new Map(tasks.map((t, i) => [t.id, i]));

describe("mergeTasks", () => {
  it("replaces changed tasks in place and keeps the others' identity", () => {
    const before = list();
    const index = indexOf(before);
    const running = makeTask(2, { status: "RUNNING", latestRun: makeRun("2", { status: "RUNNING" }) });
    const next = mergeTasks(before, index, [running], "1")!;
    expect(next).not.toBe(before);
    expect(next.map((t) => t.status)).toEqual(["NOT_STARTED", "RUNNING", "NOT_STARTED"]);
    expect(next[0]).toBe(before[0]);
    expect(next[2]).toBe(before[2]);
    expect(before[1]!.status).toBe("NOT_STARTED"); // the old array is not touched
  });

  it("returns null when the delta only repeats what is already there", () => {
    const before = list();
    expect(mergeTasks(before, indexOf(before), [makeTask(1), makeTask(3)], "1")).toBeNull();
    expect(mergeTasks(before, indexOf(before), [], "1")).toBeNull();
  });

  it("appends tasks it has not seen and indexes them; the last copy of a repeated id wins", () => {
    const before = list();
    const index = indexOf(before);
    const next = mergeTasks(before, index, [makeTask(4), makeTask(4, { status: "SKIPPED" }), makeTask(1, { status: "DONE" })], "1")!;
    expect(next.map((t) => [t.id, t.status])).toEqual([
      ["1", "DONE"],
      ["2", "NOT_STARTED"],
      ["3", "NOT_STARTED"],
      ["4", "SKIPPED"],
    ]);
    expect(index.get("4")).toBe(3);
  });

  it("ignores tasks of another rollout", () => {
    const before = list();
    const index = indexOf(before);
    expect(mergeTasks(before, index, [makeTask(9, { rolloutId: "2" }), makeTask(1, { rolloutId: "2", status: "DONE" })], "1")).toBeNull();
    expect(index.has("9")).toBe(false);
  });

  it("compares by content, not by object", () => {
    expect(sameTask(makeTask(1), makeTask(1))).toBe(true);
    expect(sameTask(makeTask(1), makeTask(1, { latestRun: makeRun("1", { cancelRequestedAt: "2030-01-01T10:00:00Z" }) }))).toBe(false);
  });
});
