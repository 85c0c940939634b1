import { describe, expect, it } from "vitest";
import { taskRunFinish, taskRunRetry } from "../../src/store/runs.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiGating } from "../helpers/api-gating.js";
import { taskSpec } from "../helpers/api.js";

const api = useApiApp();

const { pass, run, get, causeOf, claimAndFinish } = apiGating(api);

describe("blocked chains", () => {
  it("a FAILED version blocks its chain with BLOCKED_BY_FAILED; the summary names the roots per rollout and stage", async () => {
    const { projectId, instanceId } = await api.project();
    const v = (n: string) => taskSpec(instanceId, "a", { schemaVersion: n });
    // Without the stage gate, so that the second stage's version waits on the chain, not on its stage.
    const { rolloutId, taskIds, stageIds } = await api.rollout(
      projectId,
      [[v("0001"), v("0002"), v("0003"), taskSpec(instanceId, "b"), taskSpec(instanceId, "b")], [v("0004")]],
      undefined,
      { stageOrder: "NONE" },
    );
    const [v1, v2, v3, b1, b2, v4] = taskIds as [string, string, string, string, string, string];
    await run(rolloutId, [v1, b1]);
    await pass();
    await claimAndFinish(v1, "FAILED");
    await run(rolloutId, [v2, v3, v4, b2]);
    await pass();

    expect(await causeOf(v2)).toMatchObject({ type: "BLOCKED_BY_FAILED", taskId: v1, schemaVersion: "0001", status: "FAILED" });
    expect(await causeOf(v3)).toMatchObject({ type: "VERSION_ORDER", taskId: v2 });
    expect(await causeOf(b2)).toMatchObject({ type: "DATABASE_BUSY", taskId: b1 });

    const summary = await get(`/rollouts/${rolloutId}/blockers`);
    expect(summary.held).toBe(4);
    expect(summary.roots).toMatchObject([
      { taskId: v1, status: "FAILED", schemaVersion: "0001", held: 3, heldByStage: { [stageIds[0]!]: 2, [stageIds[1]!]: 1 } },
      { taskId: b1, status: "RUNNING", held: 1 },
    ]);
    expect(summary.roots[0].since).toEqual(expect.any(String));
    expect(summary.stages).toEqual([
      { stageId: stageIds[0], held: 3, blocked: 2 },
      { stageId: stageIds[1], held: 1, blocked: 1 },
    ]);

    // Retried: the chain waits for it again (no longer "blocked").
    await run(rolloutId, [v1]);
    await pass();
    expect(await causeOf(v2)).toMatchObject({ type: "VERSION_ORDER", taskId: v1 });
    const after = await get(`/rollouts/${rolloutId}/blockers`);
    expect(after.stages.map((s: { blocked: number }) => s.blocked)).toEqual([0, 0]);
    expect((await api.call(api.viewer, { method: "GET", url: "/api/v1/rollouts/999999/blockers" })).statusCode).toBe(404);
  });

  it("a version whose target cannot be reached holds its chain, and the summary says why (issue 10)", async () => {
    const { projectId, instanceId } = await api.project();
    const v = (n: string) => taskSpec(instanceId, "a", { schemaVersion: n });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[v("0001"), v("0002"), v("0003")]]);
    const [v1, v2, v3] = taskIds as [string, string, string];
    await run(rolloutId, [v1]);
    await pass();
    const claimed = await claimAndFinish(v1, null);
    // The executor's verdict when the target refuses connections: back to PENDING with a backoff.
    const later = new Date(Date.now() + 3_600_000);
    expect(
      await taskRunRetry(api.db, {
        runId: claimed.id,
        replicaId: "r1",
        epoch: claimed.epoch,
        now: new Date(),
        retryAt: later,
        error: "ECONNREFUSED",
      }),
    ).toBe(true);
    await run(rolloutId, [v2, v3]);
    await pass();
    expect(await causeOf(v1)).toMatchObject({ type: "TARGET_UNREACHABLE", lastError: "ECONNREFUSED" });
    expect(await causeOf(v2)).toMatchObject({ type: "VERSION_ORDER", taskId: v1 });
    const summary = await get(`/rollouts/${rolloutId}/blockers`);
    expect(summary.roots).toMatchObject([
      { taskId: v1, status: "PENDING", held: 2, waitingCause: { type: "TARGET_UNREACHABLE", lastError: "ECONNREFUSED" } },
    ]);
  });

  it("a retried blocker goes ahead of older waiting runs of its rollout", async () => {
    const { projectId, instanceId } = await api.project(1);
    const data = (db: string) => taskSpec(instanceId, db, { type: "DATABASE_DATA_UPDATE" });
    const { rolloutId, taskIds } = await api.rollout(projectId, [
      [taskSpec(instanceId, "a", { schemaVersion: "0001" }), taskSpec(instanceId, "a", { schemaVersion: "0002" }), data("c"), data("d")],
    ]);
    const [v1, v2, d1, d2] = taskIds as [string, string, string, string];
    await run(rolloutId, [v1]);
    await pass();
    await claimAndFinish(v1, "FAILED");
    await run(rolloutId, [v2, d1, d2]);
    await pass();
    const running = await claimAndFinish(d1, null); // holds the rollout's only slot
    expect(await causeOf(d2)).toMatchObject({ type: "PARALLEL_LIMIT" });
    await run(rolloutId, [v1]); // the retry is younger than d2's run
    await pass();
    expect(await causeOf(v1)).toMatchObject({ type: "PARALLEL_LIMIT" });
    // The root's own cause is served with its live count, as a task's is (it is stored without one).
    const summary = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/blockers` });
    expect(summary.statusCode).toBe(200);
    expect(summary.json().roots).toMatchObject([{ taskId: v1, waitingCause: { type: "PARALLEL_LIMIT", limit: 1, active: 1 } }]);
    await taskRunFinish(api.db, {
      runId: running.id,
      replicaId: "r1",
      epoch: running.epoch,
      status: "DONE",
      result: {},
      message: "",
      now: new Date(),
    });
    await pass();
    expect((await get(`/tasks/${v1}`)).status).toBe("AVAILABLE");
    expect(await causeOf(d2)).toMatchObject({ type: "PARALLEL_LIMIT" });
  });
});
