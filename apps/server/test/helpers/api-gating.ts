import { PendingScheduler } from "../../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../../src/store/runs.js";
import type { ApiApp } from "./api-app.js";

/** What API tests of waiting causes share: a pending pass on the file's database, and the API calls around it. */
export function apiGating(api: ApiApp) {
  /** Claims the AVAILABLE run of `taskId` and finishes it with `status` (or leaves it RUNNING). */
  const claimAndFinish = async (taskId: string, status: "DONE" | "FAILED" | null) => {
    const claimed = await taskRunsClaim(api.db, { replicaId: "r1", limit: 100, leaseTtlMs: 60_000, now: new Date() });
    const mine = claimed.find((c) => c.taskId === taskId);
    if (!mine) throw new Error(`task ${taskId} was not claimable`);
    if (status)
      await taskRunFinish(api.db, { runId: mine.id, replicaId: "r1", epoch: mine.epoch, status, result: {}, message: "", now: new Date() });
    return mine;
  };
  const get = async (url: string) => (await api.call(api.viewer, { method: "GET", url: `/api/v1${url}` })).json();
  return {
    pass: () =>
      new PendingScheduler({ db: api.db, clock: { now: () => new Date() }, replicaId: "r1", fullPassIntervalMs: 3_600_000 }).runOnce(),
    run: (rolloutId: string, taskIds: string[]) =>
      api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } }),
    get,
    claimAndFinish,
    /** The waiting cause of the task's latest run, as the API serves it. */
    causeOf: async (taskId: string) => (await get(`/tasks/${taskId}`)).latestRun?.waitingCause,
  };
}
