import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../../src/store/runs.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiRollout, errorOf, taskSpec, type Who } from "../helpers/api.js";

const api = useApiApp();

const pass = () =>
  new PendingScheduler({ db: api.db, clock: { now: () => new Date() }, replicaId: "r1", fullPassIntervalMs: 3_600_000 }).runOnce({
    full: true,
  });
const run = (rolloutId: string, body: object, who: Who = api.releaser) =>
  api.call(who, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: body });
const tasks = async (rolloutId: string, query = "") =>
  (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks${query}` })).json();
const runCount = async () =>
  Number(
    (
      await api.db
        .selectFrom("task_run")
        .select((e) => e.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

/** Claims every AVAILABLE run as replica r1. */
async function claimAll() {
  return taskRunsClaim(api.db, { replicaId: "r1", limit: 100, leaseTtlMs: 60_000, now: new Date() });
}

describe("task list", () => {
  it("filters by repeated status and by stage, pages by id, and shows the latest run with its waiting cause", async () => {
    const { projectId, instanceId } = await api.project(1);
    const { rolloutId, taskIds, stageIds } = await apiRollout(api.app, api.releaser, projectId, [
      [taskSpec(instanceId, "a"), taskSpec(instanceId, "b"), taskSpec(instanceId, "c")],
      [taskSpec(instanceId, "d")],
    ]);
    expect((await run(rolloutId, { taskIds: [taskIds[0], taskIds[1]] })).json().results.map((r: { outcome: string }) => r.outcome)).toEqual(
      ["CREATED", "CREATED"],
    );
    await pass();
    const all = await tasks(rolloutId);
    expect(all.tasks.map((x: { status: string }) => x.status)).toEqual(["AVAILABLE", "PENDING", "NOT_STARTED", "NOT_STARTED"]);
    const held = all.tasks[1];
    expect(held.latestRun).toMatchObject({
      attempt: 1,
      status: "PENDING",
      createdBy: api.releaser.username,
      waitingCause: { type: "PARALLEL_LIMIT", limit: 1, active: 1 },
    });
    expect(all.tasks[2].latestRun).toBeUndefined();
    const filtered = await tasks(rolloutId, "?status=AVAILABLE&status=PENDING");
    expect(filtered.tasks.map((x: { id: string }) => x.id)).toEqual([taskIds[0], taskIds[1]]);
    expect((await tasks(rolloutId, "?status=NOT_STARTED")).tasks.map((x: { id: string }) => x.id)).toEqual([taskIds[2], taskIds[3]]);
    expect((await tasks(rolloutId, `?stageId=${stageIds[1]}`)).tasks.map((x: { id: string }) => x.id)).toEqual([taskIds[3]]);
    const p1 = await tasks(rolloutId, "?pageSize=3");
    expect(p1.tasks).toHaveLength(3);
    const p2 = await tasks(rolloutId, `?pageSize=3&pageToken=${p1.nextPageToken}`);
    expect(p2).toMatchObject({ tasks: [{ id: taskIds[3] }], nextPageToken: null });
    for (const q of [
      "?status=BOGUS",
      "?stageId=x",
      "?pageSize=5000",
      "?status=A&status=B&status=C&status=D&status=E&status=F&status=G&status=H&status=I",
    ]) {
      expect(errorOf(await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks${q}` })).status, q).toBe(400);
    }
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/rollouts/424242424242/tasks" })).status).toBe(404);
    const one = (await api.call(api.viewer, { method: "GET", url: `/api/v1/tasks/${taskIds[1]}` })).json();
    expect(one).toMatchObject({
      id: taskIds[1],
      rolloutId,
      stageId: stageIds[0],
      type: "DATABASE_SCHEMA_UPDATE",
      instanceId,
      database: "b",
      schemaVersion: null,
      statement: "SELECT 1",
      status: "PENDING",
    });
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/tasks/424242424242" })).status).toBe(404);
  });
});

describe("POST /rollouts/:rolloutId/tasks/run", () => {
  it("is idempotent per task and reports each outcome; runAt in the future waits, in the past means now", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await apiRollout(api.app, api.releaser, projectId, [
      [taskSpec(instanceId, "a"), taskSpec(instanceId, "b"), taskSpec(instanceId, "c"), taskSpec(instanceId, "d")],
    ]);
    const [a, b, c, d] = taskIds as [string, string, string, string];
    const first = (await run(rolloutId, { taskIds: [a] })).json().results;
    expect(first).toEqual([{ taskId: a, outcome: "CREATED", taskRunId: expect.stringMatching(/^\d+$/) }]);
    expect((await run(rolloutId, { taskIds: [a] })).json().results).toEqual([{ taskId: a, outcome: "ALREADY_ACTIVE" }]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    await run(rolloutId, { taskIds: [b], runAt: future });
    await run(rolloutId, { taskIds: [c], runAt: "2001-01-01T00:00:00Z" });
    const rows = await api.db.selectFrom("task_run").select(["task_id", "run_at"]).where("rollout_id", "=", rolloutId).execute();
    expect(rows.find((r) => r.task_id === b)!.run_at!.toISOString()).toBe(future);
    expect(rows.find((r) => r.task_id === c)!.run_at).toBeNull();
    await pass();
    expect((await tasks(rolloutId)).tasks[1].latestRun.waitingCause).toMatchObject({ type: "RUN_AT", runAt: future });
    // DONE → ALREADY_DONE; SKIPPED → TASK_SKIPPED; FAILED → a new attempt.
    const claimed = await claimAll();
    const runA = claimed.find((r) => r.taskId === a)!;
    await taskRunFinish(api.db, {
      runId: runA.id,
      replicaId: "r1",
      epoch: runA.epoch,
      status: "DONE",
      result: { rowsAffected: 0 },
      message: "ok",
      now: new Date(),
    });
    const runC = claimed.find((r) => r.taskId === c)!;
    await taskRunFinish(api.db, {
      runId: runC.id,
      replicaId: "r1",
      epoch: runC.epoch,
      status: "FAILED",
      result: { error: { message: "boom", code: "XX000" } },
      message: "failed",
      now: new Date(),
    });
    await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/tasks/skip`,
      payload: { taskIds: [d], reason: "not needed" },
    });
    const again = (await run(rolloutId, { taskIds: [a, c, d] })).json().results;
    expect(again).toEqual([
      { taskId: a, outcome: "ALREADY_DONE" },
      { taskId: c, outcome: "CREATED", taskRunId: expect.any(String) },
      { taskId: d, outcome: "TASK_SKIPPED" },
    ]);
    const runs = (await api.call(api.viewer, { method: "GET", url: `/api/v1/tasks/${c}/runs` })).json().runs;
    expect(runs.map((r: { attempt: number; status: string }) => [r.attempt, r.status])).toEqual([
      [2, "PENDING"],
      [1, "FAILED"],
    ]);
    expect(runs[1]).toMatchObject({ result: { error: { message: "boom", code: "XX000" } }, replicaId: "r1" });
    expect(runs[1].finishedAt).toEqual(expect.any(String));
    expect((await tasks(rolloutId)).tasks[3]).toMatchObject({ status: "SKIPPED", skipReason: "not needed" });
  });

  it("unknown tasks, tasks of another rollout, bad bodies and viewers change nothing", async () => {
    const { projectId, instanceId } = await api.project();
    const r1 = await apiRollout(api.app, api.releaser, projectId, [[taskSpec(instanceId, "a")]]);
    const r2 = await apiRollout(api.app, api.releaser, projectId, [[taskSpec(instanceId, "b")]]);
    const before = await runCount();
    const notFound = errorOf(await run(r1.rolloutId, { taskIds: [r1.taskIds[0], r2.taskIds[0]] }));
    expect(notFound).toMatchObject({ status: 404, code: "NOT_FOUND", details: { taskIds: [r2.taskIds[0]] } });
    expect(errorOf(await run("999999999", { taskIds: [r1.taskIds[0]] })).status).toBe(404);
    const bad: unknown[] = [
      {},
      { taskIds: [] },
      { taskIds: Array.from({ length: 1001 }, (_, i) => String(i + 1)) },
      { taskIds: [r1.taskIds[0], r1.taskIds[0]] },
      { taskIds: [Number(r1.taskIds[0])] },
      { taskIds: ["1 OR 1=1"] },
      { taskIds: [r1.taskIds[0]], runAt: "tomorrow" },
      { taskIds: [r1.taskIds[0]], runAt: "2024-02-30T00:00:00Z" },
      { taskIds: [r1.taskIds[0]], now: true },
      [r1.taskIds[0]],
      "run",
      null,
    ];
    for (const payload of bad) {
      const res = await api.call(api.releaser, {
        method: "POST",
        url: `/api/v1/rollouts/${r1.rolloutId}/tasks/run`,
        headers: { "content-type": "application/json" },
        payload: JSON.stringify(payload),
      });
      expect(errorOf(res).status, JSON.stringify(payload).slice(0, 80)).toBe(400);
    }
    expect(errorOf(await run(r1.rolloutId, { taskIds: [r1.taskIds[0]] }, api.viewer))).toMatchObject({
      status: 403,
      code: "PERMISSION_DENIED",
    });
    expect(
      (await api.app.inject({ method: "POST", url: `/api/v1/rollouts/${r1.rolloutId}/tasks/run`, payload: { taskIds: [r1.taskIds[0]] } }))
        .statusCode,
    ).toBe(401);
    expect(await runCount()).toBe(before);
    // Admins hold the releaser's rights.
    expect((await run(r1.rolloutId, { taskIds: [r1.taskIds[0]] }, api.admin)).statusCode).toBe(200);
  });
});

describe("POST /rollouts/:rolloutId/tasks/skip", () => {
  it("skips NOT_STARTED, FAILED and CANCELED tasks; anything else refuses the whole request naming each task", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await apiRollout(api.app, api.releaser, projectId, [
      [taskSpec(instanceId, "a"), taskSpec(instanceId, "b"), taskSpec(instanceId, "c")],
    ]);
    const [a, b, c] = taskIds as [string, string, string];
    await run(rolloutId, { taskIds: [b, c] });
    const skip = (ids: string[], who: Who = api.releaser) =>
      api.call(who, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/skip`, payload: { taskIds: ids, reason: "manual" } });
    const refused = errorOf(await skip([a, b, c]));
    expect(refused).toMatchObject({
      status: 409,
      code: "CONFLICT",
      details: {
        tasks: [
          { taskId: b, status: "PENDING" },
          { taskId: c, status: "PENDING" },
        ],
      },
    });
    expect(refused.message).toContain(`task ${b} is PENDING`);
    expect((await tasks(rolloutId)).tasks[0].status).toBe("NOT_STARTED");
    expect(errorOf(await skip([a], api.viewer)).status).toBe(403);
    expect(
      errorOf(await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/skip`, payload: { taskIds: [a] } }))
        .message,
    ).toMatch(/reason/);
    expect(
      errorOf(
        await api.call(api.releaser, {
          method: "POST",
          url: `/api/v1/rollouts/${rolloutId}/tasks/skip`,
          payload: { taskIds: [a], reason: "" },
        }),
      ).status,
    ).toBe(400);
    expect(errorOf(await skip(["987654321"])).status).toBe(404);
    const cancel = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/task-runs/cancel`,
      payload: { taskRunIds: [(await tasks(rolloutId)).tasks[1].latestRun.id] },
    });
    expect(cancel.statusCode).toBe(200);
    const ok = await skip([a, b]);
    expect(ok.json()).toEqual({ skipped: [a, b] });
    expect((await tasks(rolloutId)).tasks.map((x: { status: string }) => x.status)).toEqual(["SKIPPED", "SKIPPED", "PENDING"]);
  });
});

describe("POST /rollouts/:rolloutId/task-runs/cancel", () => {
  it("cancels PENDING and AVAILABLE at once, requests RUNNING; other statuses or rollouts refuse everything", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await apiRollout(api.app, api.releaser, projectId, [
      [
        // Data updates under no limit are created AVAILABLE, ahead of the changes the pass promotes: a's run is
        // the one the claim below takes (runs are claimed in the order they became AVAILABLE), c's stays AVAILABLE.
        taskSpec(instanceId, "a", { type: "DATABASE_DATA_UPDATE" }),
        taskSpec(instanceId, "b"),
        taskSpec(instanceId, "c", { type: "DATABASE_DATA_UPDATE" }),
        taskSpec(instanceId, "d"),
      ],
    ]);
    const other = await apiRollout(api.app, api.releaser, projectId, [[taskSpec(instanceId, "z")]]);
    // Earlier tests' runs out of the way: the claim below must take task a's.
    await pass();
    await claimAll();
    const runIds = (await run(rolloutId, { taskIds })).json().results.map((r: { taskRunId: string }) => r.taskRunId) as string[];
    const otherRun = (await run(other.rolloutId, { taskIds: other.taskIds })).json().results[0].taskRunId as string;
    await pass();
    await taskRunsClaim(api.db, { replicaId: "r1", limit: 1, leaseTtlMs: 60_000, now: new Date() }); // a → RUNNING
    await pass();
    const statuses = async () => (await tasks(rolloutId)).tasks.map((x: { latestRun: { status: string } }) => x.latestRun.status);
    expect(await statuses()).toEqual(["RUNNING", "AVAILABLE", "AVAILABLE", "AVAILABLE"]);
    const cancel = (ids: string[], who: Who = api.releaser) =>
      api.call(who, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/task-runs/cancel`, payload: { taskRunIds: ids } });

    expect(errorOf(await cancel([runIds[1]!, otherRun]))).toMatchObject({ status: 404, details: { taskRunIds: [otherRun] } });
    expect(errorOf(await cancel([runIds[1]!], api.viewer)).status).toBe(403);
    expect(errorOf(await cancel([])).status).toBe(400);
    const res = await cancel([runIds[0]!, runIds[1]!]);
    expect(res.json().results).toEqual([
      { taskRunId: runIds[0], outcome: "CANCEL_REQUESTED" },
      { taskRunId: runIds[1], outcome: "CANCELED" },
    ]);
    expect(await statuses()).toEqual(["RUNNING", "CANCELED", "AVAILABLE", "AVAILABLE"]);
    const canceled = (await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${runIds[1]}` })).json();
    expect(canceled).toMatchObject({ status: "CANCELED", canceledBy: api.releaser.username });
    const requested = (await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${runIds[0]}` })).json();
    expect(requested).toMatchObject({
      status: "RUNNING",
      canceledBy: api.releaser.username,
      cancelRequestedAt: expect.any(String),
      replicaId: "r1",
    });
    // A CANCELED run in the list refuses the whole request: the AVAILABLE one stays.
    const refused = errorOf(await cancel([runIds[1]!, runIds[2]!]));
    expect(refused).toMatchObject({ status: 409, code: "CONFLICT", details: { taskRuns: [{ taskRunId: runIds[1], status: "CANCELED" }] } });
    expect(await statuses()).toEqual(["RUNNING", "CANCELED", "AVAILABLE", "AVAILABLE"]);
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/task-runs/77777777" })).status).toBe(404);
  });
});

describe("runs and logs", () => {
  it("GET /tasks/:taskId/runs and GET /task-runs/:taskRunId/logs", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await apiRollout(api.app, api.releaser, projectId, [[taskSpec(instanceId, "a")]]);
    const runId = (await run(rolloutId, { taskIds })).json().results[0].taskRunId as string;
    await pass();
    const logs = (await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${runId}/logs` })).json();
    expect(logs.nextPageToken).toBeNull();
    expect(logs.entries[0]).toMatchObject({
      type: "STATUS",
      replicaId: null,
      message: `created by ${api.releaser.username}`,
      data: { status: "PENDING" },
    });
    expect(logs.entries.length).toBeGreaterThanOrEqual(2);
    expect(
      logs.entries.every((e: { at: string; message: string }) => typeof e.message === "string" && !Number.isNaN(Date.parse(e.at))),
    ).toBe(true);
    const p1 = (await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${runId}/logs?pageSize=1` })).json();
    const p2 = (
      await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${runId}/logs?pageSize=1&pageToken=${p1.nextPageToken}` })
    ).json();
    expect(p2.entries[0].id).toBe(logs.entries[1].id);
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/task-runs/88888888/logs" })).status).toBe(404);
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/tasks/88888888/runs" })).status).toBe(404);
    expect(errorOf(await api.app.inject({ method: "GET", url: `/api/v1/task-runs/${runId}/logs` })).status).toBe(401);
    expect((await api.call(api.viewer, { method: "GET", url: `/api/v1/tasks/${taskIds[0]}/runs` })).json().runs).toHaveLength(1);
  });
});
