import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { installFakeApi, makeTask, type FakeApi } from "../../test/fake-api";
import { emptyCounts } from "@/lib/task-counts";
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
      a.rollout.statusCounts = { ...emptyCounts(), AVAILABLE: 50, PENDING: 50, DONE: 50, NOT_STARTED: 100 };
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

  it("catches up once for a burst of coarse change events, fetching only what changed", async () => {
    const store = useRolloutStore();
    await store.load("1");
    const detailLoads = api.calls("GET", "/rollouts/1").length;
    const untouched = store.taskById("2");
    api.tasks[0]!.status = "DONE";
    for (let i = 0; i < 5; i++) store.applyEvent({ rolloutId: "1" });
    await vi.waitFor(() => expect(store.taskById("1")?.status).toBe("DONE"));
    const deltas = api.calls("GET", "/rollouts/1/tasks").filter((r) => r.query.has("updatedSince"));
    expect(deltas.map((r) => r.query.get("updatedSince"))).toEqual(["c1"]); // the first page's cursor of the load
    expect(api.calls("GET", "/rollouts/1").length).toBe(detailLoads);
    expect(store.counts).toMatchObject({ AVAILABLE: 49, DONE: 51 });
    expect(store.stages[0]!.finished).toBe(11);
    expect(store.taskById("2")).toBe(untouched);
  });

  it("ignores change events for other rollouts", async () => {
    const store = useRolloutStore();
    await store.load("1");
    const before = api.requests.length;
    store.applyEvent({ rolloutId: "99" });
    expect(api.requests.length).toBe(before);
  });

  it("coalesces catch-ups that overlap into one more, each from the latest cursor", async () => {
    const store = useRolloutStore();
    await store.load("1");
    await Promise.all([store.resync(), store.resync(), store.resync(), store.resync()]);
    const deltas = api.calls("GET", "/rollouts/1/tasks").filter((r) => r.query.has("updatedSince"));
    expect(deltas.map((r) => r.query.get("updatedSince"))).toEqual(["c1", "c4"]);
  });

  it("leaves the task array alone when a delta changes nothing (nothing re-renders)", async () => {
    const store = useRolloutStore();
    await store.load("1");
    const before = store.tasks;
    await store.resync();
    expect(store.tasks).toBe(before);
  });

  it("appends tasks it did not know and merges those it did", async () => {
    const store = useRolloutStore();
    await store.load("1");
    api.tasks.push(makeTask(251, { stageId: "s2", status: "RUNNING" }));
    api.tasks[1]!.status = "AVAILABLE";
    await store.resync();
    expect(store.tasks).toHaveLength(251);
    expect(store.taskById("251")?.status).toBe("RUNNING");
    expect(store.counts).toMatchObject({ AVAILABLE: 51, PENDING: 49, RUNNING: 1 });
  });

  it("a catch-up asked for while the rollout loads waits for the load, then takes the delta", async () => {
    const store = useRolloutStore();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    api.beforeReply = (req) => (req.path.endsWith("/tasks") && req.query.get("pageToken") === "200" ? held : undefined);
    const loading = store.load("1");
    await vi.waitFor(() => expect(api.calls("GET", "/rollouts/1/tasks")).toHaveLength(3));
    api.tasks[0]!.status = "FAILED";
    const caughtUp = store.resync();
    release();
    await Promise.all([loading, caughtUp]);
    const lists = api.calls("GET", "/rollouts/1/tasks");
    expect(lists.map((r) => r.query.get("updatedSince"))).toEqual([null, null, null, "c1"]);
    expect(store.taskById("1")?.status).toBe("FAILED");
  });

  it("reloads everything when the server refuses the cursor", async () => {
    const store = useRolloutStore();
    await store.load("1");
    api.snapshots.clear(); // say, the server was upgraded and no longer knows the cursor
    api.tasks[0]!.status = "DONE";
    await store.resync();
    expect(store.taskById("1")?.status).toBe("DONE");
    expect(api.calls("GET", "/rollouts/1")).toHaveLength(2);
  });

  it("keeps the selection to tasks that still exist after a full reload", async () => {
    const store = useRolloutStore();
    await store.load("1");
    store.setSelection(["1", "2", "3"]);
    expect(store.selectedTasks.map((t) => t.id)).toEqual(["1", "2", "3"]);
    api.tasks = api.tasks.filter((t) => t.id !== "2");
    await store.reload();
    expect(store.selectedIds).toEqual(["1", "3"]);
  });
});
