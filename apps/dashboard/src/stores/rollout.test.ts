import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { installFakeApi, makeRun, makeTask, type FakeApi } from "../../test/fake-api";
import { useAuthStore } from "./auth";
import { useRolloutStore } from "./rollout";

describe("rollout store", () => {
  let api: FakeApi;
  beforeEach(async () => {
    setActivePinia(createPinia());
    api = installFakeApi((a) => {
      a.maxPageSize = 100;
      a.tasks = Array.from({ length: 250 }, (_, i) =>
        makeTask(i + 1, {
          stageId: i < 50 ? "s1" : "s2",
          status: i % 5 === 0 ? "AVAILABLE" : i % 5 === 1 ? "PENDING" : i % 5 === 2 ? "DONE" : "NOT_STARTED",
        }),
      );
      a.rollout.statusCounts = { AVAILABLE: 50, PENDING: 50, DONE: 50, NOT_STARTED: 100 };
    });
    await useAuthStore().login("admin", "secret");
  });

  it("loads every page of tasks and counts them by status", async () => {
    const store = useRolloutStore();
    await store.load("1");
    expect(api.calls("GET", "/rollouts/1/tasks")).toHaveLength(3);
    expect(store.tasks).toHaveLength(250);
    expect(store.complete).toBe(true);
    expect(store.counts).toMatchObject({ AVAILABLE: 50, PENDING: 50, DONE: 50, NOT_STARTED: 100, RUNNING: 0 });
    expect(store.total).toBe(250);
    expect(store.finished).toBe(50);
  });

  it("shows counts from the server until all tasks arrived", async () => {
    const store = useRolloutStore();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    api.beforeReply = (req) => (req.path.endsWith("/tasks") && req.query.get("pageToken") === "100" ? held : undefined);
    api.tasks[0]!.status = "RUNNING"; // the server's statusCounts are a moment older than the tasks
    const loading = store.load("1");
    await vi.waitFor(() => expect(store.tasks).toHaveLength(100));
    expect(store.complete).toBe(false);
    expect(store.counts.AVAILABLE).toBe(50);
    expect(store.counts.RUNNING).toBe(0);
    release();
    await loading;
    expect(store.counts.RUNNING).toBe(1);
  });

  it("filters by several statuses", async () => {
    const store = useRolloutStore();
    await store.load("1");
    store.setFilter(["AVAILABLE"]);
    expect(store.visibleTasks).toHaveLength(50);
    expect(store.visibleTasks.every((t) => t.status === "AVAILABLE")).toBe(true);
    store.setFilter(["AVAILABLE", "PENDING"]);
    expect(store.visibleTasks).toHaveLength(100);
    store.setFilter([]);
    expect(store.visibleTasks).toHaveLength(250);
  });

  it("gives each stage its own progress", async () => {
    const store = useRolloutStore();
    await store.load("1");
    expect(store.stages.map((s) => [s.environment, s.total, s.finished])).toEqual([
      ["test", 50, 10],
      ["prod", 200, 40],
    ]);
  });

  it("applies an event that carries a task in place, and counts follow", async () => {
    const store = useRolloutStore();
    await store.load("1");
    const before = api.requests.length;
    store.applyEvent({ task: { ...store.taskById("1")!, status: "RUNNING", latestRun: makeRun("1", { status: "RUNNING" }) } });
    expect(store.taskById("1")?.status).toBe("RUNNING");
    expect(store.counts.RUNNING).toBe(1);
    expect(store.counts.AVAILABLE).toBe(49);
    expect(api.requests.length).toBe(before);
  });

  it("reloads once for a burst of coarse change events", async () => {
    const store = useRolloutStore();
    await store.load("1");
    const loadsBefore = api.calls("GET", "/rollouts/1").length;
    api.tasks[0]!.status = "DONE";
    for (let i = 0; i < 5; i++) store.applyEvent({ rolloutIds: ["1"] });
    await vi.waitFor(() => expect(store.taskById("1")?.status).toBe("DONE"));
    expect(api.calls("GET", "/rollouts/1").length).toBe(loadsBefore + 1);
  });

  it("ignores change events for other rollouts", async () => {
    const store = useRolloutStore();
    await store.load("1");
    const before = api.requests.length;
    store.applyEvent({ rolloutIds: ["99"] });
    store.applyEvent({ task: makeTask(999, { rolloutId: "2" }) });
    expect(store.taskById("999")).toBeUndefined();
    expect(api.requests.length).toBe(before);
  });

  it("coalesces resyncs that overlap into one more", async () => {
    const store = useRolloutStore();
    await store.load("1");
    const before = api.calls("GET", "/rollouts/1").length;
    await Promise.all([store.resync(), store.resync(), store.resync(), store.resync()]);
    expect(api.calls("GET", "/rollouts/1").length).toBe(before + 2);
  });

  it("keeps the selection to tasks that still exist", async () => {
    const store = useRolloutStore();
    await store.load("1");
    store.setSelection(["1", "2", "3"]);
    expect(store.selectedTasks.map((t) => t.id)).toEqual(["1", "2", "3"]);
    api.tasks = api.tasks.filter((t) => t.id !== "2");
    await store.resync();
    expect(store.selectedIds).toEqual(["1", "3"]);
  });
});
