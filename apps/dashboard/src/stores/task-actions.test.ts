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

  const bulkBodies = () => api.calls("POST", "/tasks/bulk").map((c) => c.body as Record<string, unknown>);

  it("sends the whole selection in one request and reports every task: changed, already, not allowed and why", async () => {
    const actions = useTaskActionsStore();
    const report = await actions.perform("run", tasks());
    expect(bulkBodies()).toEqual([{ action: "run", taskIds: ["1", "2", "3", "4", "5"] }]);
    expect(report?.rows).toEqual([
      { taskId: "1", outcome: "CREATED", changed: true, status: "PENDING" },
      { taskId: "2", outcome: "NOT_ALLOWED", changed: false, status: "FAILED", reason: "STATUS" },
      { taskId: "3", outcome: "ALREADY", changed: false, status: "RUNNING" },
      { taskId: "4", outcome: "ALREADY", changed: false, status: "PENDING" },
      { taskId: "5", outcome: "ALREADY", changed: false, status: "DONE" },
    ]);
    expect(actions.report).toEqual(report);
  });

  it("schedules a run at a time", async () => {
    const at = new Date("2031-05-01T14:30:00Z");
    await useTaskActionsStore().perform("run", tasks(), { runAt: at });
    expect(bulkBodies()[0]).toMatchObject({ action: "schedule", runAt: "2031-05-01T14:30:00.000Z" });
  });

  it("retries FAILED tasks", async () => {
    const report = await useTaskActionsStore().perform("retry", tasks());
    expect(bulkBodies()[0]).toMatchObject({ action: "retry" });
    expect(report?.rows.find((r) => r.changed)).toMatchObject({ taskId: "2", outcome: "CREATED" });
  });

  it("cancels and tells a requested cancel from a done one", async () => {
    const report = await useTaskActionsStore().perform("cancel", tasks());
    expect(report?.rows.filter((r) => r.changed)).toEqual([
      { taskId: "3", outcome: "CANCEL_REQUESTED", changed: true, status: "RUNNING" },
      { taskId: "4", outcome: "CANCELED", changed: true, status: "CANCELED" },
    ]);
  });

  it("skips with the reason, sending the CSRF token", async () => {
    await useTaskActionsStore().perform("skip", tasks(), { reason: "  not needed in prod " });
    const call = api.calls("POST", "/tasks/bulk")[0];
    expect(call?.body).toMatchObject({ action: "skip", reason: "not needed in prod" });
    expect(call?.headers["x-csrf-token"]).toBe(api.csrf);
  });

  it("sends a large selection in one request (the server resolves it in one transaction)", async () => {
    api.tasks = Array.from({ length: 2500 }, (_, i) => makeTask(i + 1));
    await useRolloutStore().load("1");
    const report = await useTaskActionsStore().perform("run", tasks());
    expect(bulkBodies().map((b) => (b.taskIds as string[]).length)).toEqual([2500]);
    expect(report?.rows).toHaveLength(2500);
  });

  it("targets everything matching a filter, and previews without acting", async () => {
    const actions = useTaskActionsStore();
    expect((await actions.preview("cancel", { filter: { status: ["RUNNING", "PENDING"] } }))?.counts).toEqual({
      CHANGED: 2,
      ALREADY: 0,
      NOT_ALLOWED: 0,
    });
    expect(tasks().find((t) => t.id === "4")?.status).toBe("PENDING");
    const report = await actions.perform("cancel", { filter: { status: ["PENDING"] } });
    expect(bulkBodies()[1]).toEqual({ action: "cancel", filter: { status: ["PENDING"] } });
    expect(report?.rows).toEqual([{ taskId: "4", outcome: "CANCELED", changed: true, status: "CANCELED" }]);
  });

  it("does nothing for an empty selection", async () => {
    expect(await useTaskActionsStore().perform("cancel", [])).toBeNull();
    expect(api.calls("POST", "/tasks/bulk")).toHaveLength(0);
  });

  it("surfaces the API's error and clears busy", async () => {
    const actions = useTaskActionsStore();
    api.csrf = "rotated";
    await expect(actions.perform("run", tasks())).rejects.toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect(actions.busy).toBe(false);
  });
});
