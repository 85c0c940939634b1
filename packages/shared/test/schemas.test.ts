import { describe, expect, it } from "vitest";
import { TASK_STATUS_ORDER, TaskRunStatus, WaitingCauseType } from "../src/index.js";
import { ServedWaitingCause, StatusCounts, TaskRun, TaskStatusSchema } from "../src/schemas/index.js";

/**
 * The schemas spell some vocabularies out (so their static types are exact); these tests keep them in step
 * with the enums in status.ts when a status or a waiting cause is added.
 */
describe("wire schemas follow the status vocabularies", () => {
  it("StatusCounts has one count per task status, in display order", () => {
    expect(Object.keys(StatusCounts.properties)).toEqual([...TASK_STATUS_ORDER]);
    expect(StatusCounts.required).toEqual([...TASK_STATUS_ORDER]);
  });

  it("task and run statuses are the enums'", () => {
    expect(TaskStatusSchema.enum).toEqual([...TASK_STATUS_ORDER]);
    expect(TaskRun.properties.status.enum).toEqual(Object.values(TaskRunStatus));
  });

  it("a served waiting cause is one of every waiting cause type", () => {
    const types = ServedWaitingCause.anyOf.map((s) => s.properties.type.const);
    expect(types.sort()).toEqual(Object.values(WaitingCauseType).sort());
  });
});
