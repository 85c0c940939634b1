import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../../src/store/runs.js";
import { useApiApp } from "../helpers/api-app.js";
import { taskSpec } from "../helpers/api.js";

const api = useApiApp();

const pass = () =>
  new PendingScheduler({ db: api.db, clock: { now: () => new Date() }, replicaId: "r1", fullPassIntervalMs: 3_600_000 }).runOnce({
    full: true,
  });
const bulk = (rolloutId: string, body: object) =>
  api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/bulk`, payload: body });
const statuses = async (ids: string[]) => {
  const rows = await api.db.selectFrom("task").select(["id", "status"]).where("id", "in", ids).orderBy("id").execute();
  return rows.map((r) => r.status);
};
const idsOf = async (rolloutId: string) =>
  (await api.db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).orderBy("id").execute()).map((r) => r.id);
const claim = () => taskRunsClaim(api.db, { replicaId: "r1", limit: 100, leaseTtlMs: 60_000, now: new Date() });

describe("bulk actions", () => {
  it("cancel is best-effort per task: changed, already, not allowed and why; atomic changes nothing", async () => {
    const { projectId, instanceId } = await api.project();
    const data = (db: string) => taskSpec(instanceId, db, { type: "DATABASE_DATA_UPDATE" });
    const { rolloutId, taskIds } = await api.rollout(projectId, [
      [data("a"), data("b"), taskSpec(instanceId, "c", { schemaVersion: "0002" }), data("d")],
    ]);
    const [a, b, c, d] = taskIds as [string, string, string, string];
    await bulk(rolloutId, { action: "run", taskIds: [a, b] });
    const claimed = await claim();
    const runB = claimed.find((x) => x.taskId === b)!;
    await taskRunFinish(api.db, {
      runId: runB.id,
      replicaId: "r1",
      epoch: runB.epoch,
      status: "DONE",
      result: {},
      message: "",
      now: new Date(),
    });
    await bulk(rolloutId, { action: "run", taskIds: [c] });
    await pass();

    const atomic = await bulk(rolloutId, { action: "cancel", taskIds, atomic: true });
    expect(atomic.statusCode).toBe(409);
    expect(atomic.json().error.details.results.map((r: { taskId: string }) => r.taskId)).toEqual([b, d]);
    expect(await statuses(taskIds)).toEqual(["RUNNING", "DONE", "AVAILABLE", "NOT_STARTED"]);

    const dry = (await bulk(rolloutId, { action: "cancel", taskIds, dryRun: true })).json();
    expect(dry.counts).toEqual({ CHANGED: 2, ALREADY: 0, NOT_ALLOWED: 2 });
    expect(await statuses(taskIds)).toEqual(["RUNNING", "DONE", "AVAILABLE", "NOT_STARTED"]);

    const res = await bulk(rolloutId, { action: "cancel", taskIds });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toMatchObject([
      { taskId: a, result: "CHANGED", status: "RUNNING", cancelRequested: true },
      { taskId: b, result: "NOT_ALLOWED", status: "DONE", reason: "STATUS" },
      { taskId: c, result: "CHANGED", status: "CANCELED" },
      { taskId: d, result: "NOT_ALLOWED", status: "NOT_STARTED", reason: "STATUS" },
    ]);
    const again = (await bulk(rolloutId, { action: "cancel", taskIds: [a, c, "999999"] })).json();
    expect(again.results).toMatchObject([
      { taskId: a, result: "ALREADY", cancelRequested: true },
      { taskId: c, result: "ALREADY", status: "CANCELED" },
      { taskId: "999999", result: "NOT_ALLOWED", reason: "NOT_FOUND" },
    ]);
  });

  it("a bulk cancel racing with finishing tasks reports each task as it really ended, without deadlocks", async () => {
    const { projectId, instanceId } = await api.project();
    const specs = Array.from({ length: 40 }, (_, i) => taskSpec(instanceId, `r${i}`, { type: "DATABASE_DATA_UPDATE" }));
    const { rolloutId, taskIds } = await api.rollout(projectId, [specs]);
    await bulk(rolloutId, { action: "run", taskIds });
    const claimed = await claim();
    expect(claimed).toHaveLength(40);
    const finishing = Promise.all(
      claimed
        .filter((_, i) => i % 2 === 0)
        .map((r) =>
          taskRunFinish(api.db, { runId: r.id, replicaId: "r1", epoch: r.epoch, status: "DONE", result: {}, message: "", now: new Date() }),
        ),
    );
    const [res] = await Promise.all([bulk(rolloutId, { action: "cancel", filter: { status: ["RUNNING"] } }), finishing]);
    expect(res.statusCode).toBe(200);
    const byTask = new Map((res.json().results as { taskId: string; result: string; status: string }[]).map((r) => [r.taskId, r]));
    const runs = await api.db
      .selectFrom("task_run")
      .select(["task_id", "status", "cancel_requested_at"])
      .where("rollout_id", "=", rolloutId)
      .execute();
    for (const run of runs) {
      const r = byTask.get(run.task_id);
      if (run.status === "DONE" && !run.cancel_requested_at) {
        // Finished first: either not in the filter any more, or reported as DONE.
        if (r) expect(r).toMatchObject({ result: "NOT_ALLOWED", status: "DONE" });
      } else {
        expect(run.cancel_requested_at).not.toBeNull();
        expect(r).toMatchObject({ result: "CHANGED" });
      }
    }
  });
  it("targets everything matching a filter, resolved by the server; more than 1,000 tasks in one request", async () => {
    const { projectId, instanceId } = await api.project();
    const specs = Array.from({ length: 1500 }, (_, i) => taskSpec(instanceId, `db${i % 50}`, { type: "DATABASE_DATA_UPDATE" }));
    const { rolloutId } = await api.rollout(projectId, [specs]);
    const taskIds = await idsOf(rolloutId);
    expect(taskIds).toHaveLength(1500);
    const first = taskIds.slice(0, 1200);
    const ran = (await bulk(rolloutId, { action: "run", taskIds: first })).json();
    expect(ran.counts).toEqual({ CHANGED: 1200, ALREADY: 0, NOT_ALLOWED: 0 });
    const skip = (await bulk(rolloutId, { action: "skip", filter: { status: ["NOT_STARTED"] }, reason: "not needed" })).json();
    expect(skip.counts).toEqual({ CHANGED: 300, ALREADY: 0, NOT_ALLOWED: 0 });
    expect(skip.results.map((r: { taskId: string }) => r.taskId)).toEqual(taskIds.slice(1200));
    const none = (await bulk(rolloutId, { action: "skip", filter: { status: ["NOT_STARTED"] }, reason: "again" })).json();
    expect(none.results).toEqual([]);
    const bad = await bulk(rolloutId, { action: "run", taskIds: [taskIds[0]], filter: {} });
    expect(bad.statusCode).toBe(400);
    const viewer = await api.call(api.viewer, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/tasks/bulk`,
      payload: { action: "run", filter: {} },
    });
    expect(viewer.statusCode).toBe(403);
  });
});
