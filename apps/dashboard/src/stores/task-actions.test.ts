import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it } from "vitest";
import { installFakeApi, makeRun, makeTask, type FakeApi } from "../../test/fake-api";
import { useAuthStore } from "./auth";
import { useRolloutStore } from "./rollout";
import { useTaskActionsStore } from "./task-actions";

describe("task actions store", () => {
  let api: FakeApi;
  beforeEach(async () => {
    setActivePinia(createPinia());
    api = installFakeApi((a) => {
      a.tasks = [
        makeTask(1),
        makeTask(2, { status: "FAILED", latestRun: makeRun("2", { status: "FAILED" }) }),
        makeTask(3, { status: "RUNNING", latestRun: makeRun("3", { status: "RUNNING" }) }),
        makeTask(4, { status: "PENDING", latestRun: makeRun("4", { status: "PENDING" }) }),
        makeTask(5, { status: "DONE", latestRun: makeRun("5", { status: "DONE" }) }),
      ];
    });
    await useAuthStore().login("admin", "secret");
    await useRolloutStore().load("1");
  });

  const tasks = () => useRolloutStore().tasks;

  it("runs only the tasks whose status allows it and reports each outcome", async () => {
    const actions = useTaskActionsStore();
    const report = await actions.perform("run", tasks());
    expect(api.calls("POST", "/rollouts/1/tasks/run")[0]?.body).toEqual({ taskIds: ["1"] });
    expect(report?.rows).toEqual([{ taskId: "1", outcome: "CREATED", changed: true }]);
    expect(actions.report).toEqual(report);
  });

  it("schedules a run at a time", async () => {
    const at = new Date("2031-05-01T14:30:00Z");
    await useTaskActionsStore().perform("run", tasks(), { runAt: at });
    expect(api.calls("POST", "/tasks/run")[0]?.body).toEqual({ taskIds: ["1"], runAt: "2031-05-01T14:30:00.000Z" });
  });

  it("retries FAILED tasks through the run endpoint", async () => {
    const report = await useTaskActionsStore().perform("retry", tasks());
    expect(api.calls("POST", "/tasks/run")[0]?.body).toEqual({ taskIds: ["2"] });
    expect(report?.rows[0]).toMatchObject({ taskId: "2", outcome: "CREATED" });
  });

  it("cancels by run id and tells a requested cancel from a done one", async () => {
    const report = await useTaskActionsStore().perform("cancel", tasks());
    expect(api.calls("POST", "/task-runs/cancel")[0]?.body).toEqual({ taskRunIds: ["r3", "r4"] });
    expect(report?.rows).toEqual([
      { taskId: "3", outcome: "CANCEL_REQUESTED", changed: true },
      { taskId: "4", outcome: "CANCELED", changed: true },
    ]);
  });

  it("skips with the reason, sending the CSRF token", async () => {
    await useTaskActionsStore().perform("skip", tasks(), { reason: "  not needed in prod " });
    const call = api.calls("POST", "/tasks/skip")[0];
    expect(call?.body).toEqual({ taskIds: ["1", "2"], reason: "not needed in prod" });
    expect(call?.headers["x-csrf-token"]).toBe(api.csrf);
  });

  it("sends large selections in batches the API accepts", async () => {
    api.tasks = Array.from({ length: 2500 }, (_, i) => makeTask(i + 1));
    await useRolloutStore().load("1");
    const report = await useTaskActionsStore().perform("run", tasks());
    expect(api.calls("POST", "/tasks/run").map((c) => (c.body as { taskIds: string[] }).taskIds.length)).toEqual([1000, 1000, 500]);
    expect(report?.rows).toHaveLength(2500);
  });

  it("does nothing when no task is eligible", async () => {
    const done = tasks().filter((t) => t.status === "DONE");
    expect(await useTaskActionsStore().perform("cancel", done)).toBeNull();
    expect(api.calls("POST", "/task-runs/cancel")).toHaveLength(0);
  });

  it("surfaces the API's error and clears busy", async () => {
    const actions = useTaskActionsStore();
    api.csrf = "rotated";
    await expect(actions.perform("run", tasks())).rejects.toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect(actions.busy).toBe(false);
  });
});
