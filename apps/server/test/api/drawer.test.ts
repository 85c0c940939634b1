import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../../src/scheduler/pending-scheduler.js";
import { replicaHeartbeat } from "../../src/store/replicas.js";
import { taskRunFinish, taskRunsClaim } from "../../src/store/runs.js";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

/** Issue 14 points 4 and 6: what the task drawer reads (structured log events) and executor capacity. */
const api = useApiApp();

const pass = () =>
  new PendingScheduler({ db: api.db, clock: { now: () => new Date() }, replicaId: "r1", fullPassIntervalMs: 3_600_000 }).runOnce({
    full: true,
  });
const get = async (url: string) => (await api.call(api.viewer, { method: "GET", url: `/api/v1${url}` })).json();
const data = (instanceId: string, db: string) => taskSpec(instanceId, db, { type: "DATABASE_DATA_UPDATE" });

/** Runs `taskIds` as the releaser and claims their runs as `replicaId` (they are AVAILABLE at once: no gate applies). */
async function runAndClaim(rolloutId: string, taskIds: string[], replicaId: string) {
  const res = await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
  expect(res.statusCode).toBe(200);
  await pass();
  const claimed = await taskRunsClaim(api.db, { replicaId, limit: 100, leaseTtlMs: 60_000, now: new Date() });
  return claimed.filter((c) => taskIds.includes(c.taskId));
}

describe("GET /replicas: executor slots per live replica", () => {
  it("counts the slots in use (RUNNING runs each owns); allBusy once every slot is taken", async () => {
    const now = new Date();
    await replicaHeartbeat(api.db, { replicaId: "cap-a", now, slots: 2 });
    await replicaHeartbeat(api.db, { replicaId: "cap-gone", now: new Date(now.getTime() - 3_600_000), slots: 4 });
    let body = await get("/replicas");
    expect(body.replicas).toEqual([
      { id: "cap-a", startedAt: now.toISOString(), heartbeatAt: now.toISOString(), stopping: false, slots: 2, busy: 0 },
    ]);
    expect(body.capacity).toEqual({ live: 1, slots: 2, busy: 0, allBusy: false });

    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[data(instanceId, "a"), data(instanceId, "b"), data(instanceId, "c")]]);
    const claimed = await runAndClaim(rolloutId, taskIds.slice(0, 2), "cap-a");
    expect(claimed).toHaveLength(2);
    body = await get("/replicas");
    expect(body.replicas[0]).toMatchObject({ id: "cap-a", slots: 2, busy: 2 });
    expect(body.capacity).toEqual({ live: 1, slots: 2, busy: 2, allBusy: true });

    // A heartbeat without slots (a replica of the previous release) keeps what the row knows…
    await replicaHeartbeat(api.db, { replicaId: "cap-a", now: new Date() });
    expect((await get("/replicas")).replicas[0]).toMatchObject({ id: "cap-a", slots: 2 });
    // …and a replica that never said makes the answer unknown: no "waiting for a free executor".
    await replicaHeartbeat(api.db, { replicaId: "cap-legacy", now: new Date() });
    body = await get("/replicas");
    expect(body.replicas.find((r: { id: string }) => r.id === "cap-legacy")).toMatchObject({ slots: null, busy: 0 });
    expect(body.capacity).toEqual({ live: 2, slots: 2, busy: 2, allBusy: false });

    // A finished run frees its slot.
    const one = claimed[0]!;
    await taskRunFinish(api.db, {
      runId: one.id,
      replicaId: "cap-a",
      epoch: one.epoch,
      status: "DONE",
      result: {},
      message: "",
      now: new Date(),
    });
    expect((await get("/replicas")).replicas[0]).toMatchObject({ id: "cap-a", busy: 1 });

    expect(errorOf(await api.app.inject({ method: "GET", url: "/api/v1/replicas" })).status).toBe(401);
  });

  it("is in the OpenAPI document with its schema", async () => {
    const doc = (await api.app.inject({ method: "GET", url: "/api/openapi.json" })).json();
    const op = doc.paths["/api/v1/replicas"]?.get;
    expect(op).toBeDefined();
    const schema = JSON.stringify(op.responses["200"]);
    for (const field of ["slots", "busy", "allBusy", "stopping"]) expect(schema).toContain(field);
    const logs = JSON.stringify(doc.paths["/api/v1/task-runs/{taskRunId}/logs"].get.responses["200"]);
    for (const field of ["event", "from", "to", "by", "epoch", "reason"]) expect(logs).toContain(field);
  });
});

describe("GET /task-runs/:id/logs: structured events for the drawer", () => {
  it("each status change carries {from, to, by, user, replica, epoch, reason}; a failure keeps its PostgreSQL error", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[data(instanceId, "a")]]);
    const [run] = await runAndClaim(rolloutId, taskIds, "log-r2");
    const error = { message: "division by zero", code: "22012" };
    await taskRunFinish(api.db, {
      runId: run!.id,
      replicaId: "log-r2",
      epoch: run!.epoch,
      status: "FAILED",
      result: { error },
      message: error.message,
      now: new Date(),
    });
    const { entries } = await get(`/task-runs/${run!.id}/logs`);
    const events = entries.map((e: { event: unknown }) => e.event);
    expect(events).toEqual([
      expect.objectContaining({ from: null, to: "AVAILABLE", by: "api", user: api.releaser.username }),
      {
        from: "AVAILABLE",
        to: "RUNNING",
        by: "running-scheduler",
        user: null,
        replica: "log-r2",
        epoch: run!.epoch,
        reason: "claimed by log-r2",
      },
      { from: "RUNNING", to: "FAILED", by: "owner", user: null, replica: "log-r2", epoch: run!.epoch, reason: "division by zero" },
    ]);
    expect(entries[2].data.result).toEqual({ error });
    // The English message stays for clients that do not translate.
    expect(entries[1].message).toBe("claimed by log-r2");
  });

  it("a cancel names the user who asked: at once for a waiting run, as a request for a running one", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[data(instanceId, "a"), data(instanceId, "b")]]);
    const [running] = await runAndClaim(rolloutId, [taskIds[0]!], "log-r3");
    const waiting = (
      await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds: [taskIds[1]] } })
    ).json().results[0].taskRunId as string;
    const res = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/task-runs/cancel`,
      payload: { taskRunIds: [running!.id, waiting] },
    });
    expect(res.statusCode).toBe(200);
    const user = api.releaser.username;
    const canceled = (await get(`/task-runs/${waiting}/logs`)).entries.at(-1);
    expect(canceled.event).toMatchObject({ to: "CANCELED", by: "api", user });
    const requested = (await get(`/task-runs/${running!.id}/logs`)).entries.at(-1);
    expect(requested).toMatchObject({ type: "CANCEL_REQUESTED", event: { by: "api", user, to: null } });
    // The owner then stops it: the CANCELED entry names who canceled.
    await taskRunFinish(api.db, {
      runId: running!.id,
      replicaId: "log-r3",
      epoch: running!.epoch,
      status: "CANCELED",
      result: null,
      message: "canceled",
      now: new Date(),
    });
    expect((await get(`/task-runs/${running!.id}/logs`)).entries.at(-1).event).toMatchObject({ from: "RUNNING", to: "CANCELED", user });
  });

  it("an entry without a structured payload (written before events) has event null and its message", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[data(instanceId, "a")]]);
    const [run] = await runAndClaim(rolloutId, taskIds, "log-r4");
    await api.t.pool.query(
      `INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload) VALUES ($1, now(), 'STATUS', 'old', '{"status":"DONE","message":"applied: 1 row(s)"}')`,
      [run!.id],
    );
    const last = (await get(`/task-runs/${run!.id}/logs`)).entries.at(-1);
    expect(last).toMatchObject({ type: "STATUS", message: "applied: 1 row(s)", event: null });
  });
});
