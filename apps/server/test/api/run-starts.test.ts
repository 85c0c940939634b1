import { describe, expect, it } from "vitest";
import { RunningScheduler } from "../../src/scheduler/running-scheduler.js";
import { LocalRuns } from "../../src/scheduler/local-runs.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiRollout, call, taskSpec } from "../helpers/api.js";
import { waitFor } from "../helpers/db.js";
import { DeferredExecutor } from "../helpers/executors.js";

const api = useApiApp();

describe("POST /rollouts/:rolloutId/tasks/run on a replica with free executor slots", () => {
  it("starts a run no gate can hold on that replica in the create itself; a schema change goes PENDING as before", async () => {
    const exec = new DeferredExecutor();
    const running = new RunningScheduler({
      db: api.db,
      clock: { now: () => new Date() },
      replicaId: "api-replica",
      concurrency: 1,
      leaseTtlMs: 60_000,
      executorFor: () => exec,
    });
    const runs = new LocalRuns();
    runs.attach(running);
    const app = await api.extraApp({ runs });
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await apiRollout(api.app, api.releaser, projectId, [
      [
        taskSpec(instanceId, "a", { type: "DATABASE_DATA_UPDATE" }),
        taskSpec(instanceId, "b", { type: "DATABASE_DATA_UPDATE" }),
        taskSpec(instanceId, "c"),
      ],
    ]);
    const [a, b, c] = taskIds as [string, string, string];
    const res = await call(app, api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/tasks/run`,
      payload: { taskIds: [a, b, c] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().results.map((r: { outcome: string }) => r.outcome)).toEqual(["CREATED", "CREATED", "CREATED"]);
    // RUNNING when the call returned: one slot, so one run; the other AVAILABLE for any replica.
    const rows = await api.db
      .selectFrom("task_run")
      .select(["task_id", "status", "owner_replica"])
      .where("rollout_id", "=", rolloutId)
      .orderBy("task_id")
      .execute();
    expect(rows.map((r) => [r.task_id, r.status, r.owner_replica])).toEqual([
      [a, "RUNNING", "api-replica"],
      [b, "AVAILABLE", null],
      [c, "PENDING", null],
    ]);
    await waitFor(async () => exec.started.length === 1);
    expect(exec.started[0]!.taskId).toBe(a);
    exec.finishAll();
    await waitFor(async () => exec.started.length === 2);
    exec.finishAll();
    await waitFor(async () =>
      (await api.db.selectFrom("task_run").select("status").where("task_id", "in", [a, b]).execute()).every((r) => r.status === "DONE"),
    );
  });
});
