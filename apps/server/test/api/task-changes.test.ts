import { describe, expect, it } from "vitest";
import type { TaskList } from "@runway/shared/schemas";
import { PendingScheduler } from "../../src/scheduler/pending-scheduler.js";
import { CHANGE_OVERLAP_MS } from "../../src/schemas/change-cursor.js";
import { taskRunsClaim } from "../../src/store/runs.js";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

/**
 * `GET /rollouts/:id/tasks?updatedSince=<cursor>`: the dashboard's live view merges these deltas instead of
 * reloading every task. The app runs on a clock the test moves, so "changed after the cursor" is exact.
 */
const T0 = Date.parse("2031-03-01T10:00:00Z");
let nowMs = T0;
const clock = { now: () => new Date(nowMs) };
/** Minutes after T0: far apart compared with the overlap, so only what the test changed is "recent". */
const at = (minutes: number) => (nowMs = T0 + minutes * 60_000);

const api = useApiApp({ clock });

/** A rollout of two stages (five tasks) in a fresh project, made at T0. */
async function setup() {
  at(0);
  const { projectId, instanceId } = await api.project();
  return api.rollout(projectId, [
    [taskSpec(instanceId, "a"), taskSpec(instanceId, "b"), taskSpec(instanceId, "c")],
    [taskSpec(instanceId, "d"), taskSpec(instanceId, "e")],
  ]);
}

const list = async (rolloutId: string, query = ""): Promise<TaskList> => {
  const res = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const since = (rolloutId: string, cursor: string, more = "") => list(rolloutId, `?updatedSince=${cursor}${more}`);
const ids = (body: TaskList) => body.tasks.map((x) => x.id);
const post = (url: string, payload: object) => api.call(api.releaser, { method: "POST", url: `/api/v1${url}`, payload });
const pass = () => new PendingScheduler({ db: api.db, clock, replicaId: "r1", fullPassIntervalMs: 3_600_000 }).runOnce({ full: true });

describe("task list deltas (updatedSince)", () => {
  it("returns only the tasks whose status, cancel request or waiting cause changed after the cursor", async () => {
    const { rolloutId, taskIds } = await setup();
    const [a, b, c, d] = taskIds as [string, string, string, string];
    at(10);
    const full = await list(rolloutId, "?pageSize=1000");
    expect(full.tasks).toHaveLength(5);
    expect(full.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(ids(await since(rolloutId, full.cursor))).toEqual([]);

    // Status changes stamp the task: a run scheduled for later (PENDING), a skip.
    at(20);
    await post(`/rollouts/${rolloutId}/tasks/run`, { taskIds: [a], runAt: new Date(T0 + 7 * 86_400_000).toISOString() });
    await post(`/rollouts/${rolloutId}/tasks/skip`, { taskIds: [b], reason: "done by hand" });
    const delta = await since(rolloutId, full.cursor);
    expect(delta.tasks.map((x) => [x.id, x.status])).toEqual([
      [a, "PENDING"],
      [b, "SKIPPED"],
    ]);
    expect(delta.cursor).not.toBe(full.cursor);

    // A pass writes a's waiting cause (RUN_AT) and stamps nothing else.
    at(30);
    const beforePass = await list(rolloutId, "?pageSize=1");
    at(40);
    await pass();
    const caused = await since(rolloutId, beforePass.cursor);
    expect(ids(caused)).toEqual([a]);
    expect(caused.tasks[0]!.latestRun?.waitingCause?.type).toBe("RUN_AT");

    // A cancel request on a RUNNING run stamps only the run.
    at(50);
    await post(`/rollouts/${rolloutId}/tasks/run`, { taskIds: [c] });
    await pass();
    await taskRunsClaim(api.db, { replicaId: "r1", limit: 100, leaseTtlMs: 3_600_000, now: clock.now() });
    const running = (await list(rolloutId, "?status=RUNNING")).tasks[0]!;
    expect(running.id).toBe(c);
    at(60);
    const beforeCancel = await list(rolloutId, "?pageSize=1");
    at(70);
    await post(`/rollouts/${rolloutId}/task-runs/cancel`, { taskRunIds: [running.latestRun!.id] });
    const canceled = await since(rolloutId, beforeCancel.cursor);
    expect(ids(canceled)).toEqual([c]);
    expect(canceled.tasks[0]!.latestRun?.cancelRequestedAt).toBe(new Date(nowMs).toISOString());

    // The same cursor again repeats what changed within the overlap before it; a cursor read later than
    // that reports nothing (d was never touched at all).
    expect(ids(await since(rolloutId, canceled.cursor))).toEqual([c]);
    at(80);
    const quiet = await since(rolloutId, canceled.cursor);
    expect(ids(await since(rolloutId, quiet.cursor))).toEqual([]);
    expect(full.tasks.map((x) => x.id)).toContain(d);
  });

  it("repeats changes stamped shortly before the cursor: a write that started before the list committed after it", async () => {
    const { rolloutId, taskIds } = await setup();
    at(10);
    const read = await list(rolloutId);
    // A writer whose clock (or transaction start) is a little behind the list's read time.
    nowMs -= CHANGE_OVERLAP_MS / 2;
    await post(`/rollouts/${rolloutId}/tasks/skip`, { taskIds: [taskIds[4]!], reason: "late commit" });
    at(10);
    expect(ids(await since(rolloutId, read.cursor))).toEqual([taskIds[4]]);
  });

  it("pages a large delta, combines with stageId, and refuses status, forged cursors and bad shapes", async () => {
    const { rolloutId, taskIds, stageIds } = await setup();
    at(10);
    const { cursor } = await list(rolloutId);
    at(20);
    await post(`/rollouts/${rolloutId}/tasks/skip`, { taskIds, reason: "all of them" });
    const p1 = await since(rolloutId, cursor, "&pageSize=2");
    expect(ids(p1)).toEqual(taskIds.slice(0, 2));
    const p2 = await since(rolloutId, cursor, `&pageSize=2&pageToken=${p1.nextPageToken}`);
    expect(ids(p2)).toEqual(taskIds.slice(2, 4));
    expect(ids(await since(rolloutId, cursor, `&stageId=${stageIds[1]}`))).toEqual(taskIds.slice(3));

    const bad = async (q: string) => errorOf(await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks${q}` }));
    expect(await bad(`?updatedSince=${cursor}&status=SKIPPED`)).toMatchObject({ status: 400, message: expect.stringMatching(/status/) });
    expect(await bad(`?updatedSince=${Buffer.from("k:12").toString("base64url")}`)).toMatchObject({
      status: 400,
      message: expect.stringMatching(/updatedSince/),
    });
    for (const q of ["?updatedSince=", "?updatedSince=a%20b", `?updatedSince=${"x".repeat(101)}`])
      expect((await bad(q)).status, q).toBe(400);
    expect(
      (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/424242424242/tasks?updatedSince=${cursor}` })).statusCode,
    ).toBe(404);
  });
});
