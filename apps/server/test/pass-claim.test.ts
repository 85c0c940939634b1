import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunsCancel, tasksRun } from "../src/store/task-actions.js";
import { rolloutPauseApi } from "../src/store/gates.js";
import { gatingPromote } from "../src/store/gating.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { runningScheduler } from "./helpers/runtime.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();
const clock = { now: () => new Date() };

const runs = () =>
  t.db.selectFrom("task_run").select(["id", "task_id", "status", "owner_replica", "lease_epoch"]).orderBy("task_id").execute();

/** A replica's two schedulers, its live passes claiming into its running scheduler's free slots. */
async function replica(concurrency: number) {
  const exec = new DeferredExecutor();
  const running = runningScheduler(t.db, exec, concurrency);
  // How many times a pass held the replica's free slots for its promote.
  const held = { count: 0 };
  const claimSlots = () => {
    held.count++;
    return running.hold();
  };
  const pending = new PendingScheduler({ db: t.db, clock, replicaId: "r", fullPassIntervalMs: 1e9, claimSlots });
  // The first pass is full (and claims nothing); the ones after it are live.
  await pending.runOnce();
  return { exec, running, pending, held };
}

describe("a live pass claims what it promotes for its own replica (promoteStatement's claim)", () => {
  it("makes up to the free slots RUNNING under the replica's lease in the promote, and the replica starts them after the commit", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { exec, pending, held } = await replica(1);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      [
        task(instanceId, "a", { schemaVersion: "0001" }),
        task(instanceId, "a", { schemaVersion: "0002" }),
        task(instanceId, "b", { schemaVersion: "0001" }),
      ],
      { run: false },
    );
    await tasksRun(t.db, { rolloutId, taskIds, runAt: null, actor: "alice", now: new Date() });
    const pass = await pending.runOnce();
    // a's 0001 and b's 0001 promoted; one slot, so one of them claimed (the lower id) and the other AVAILABLE.
    expect(pass).toMatchObject({ kind: "live", promoted: 2, claimed: 1 });
    expect(held.count).toBe(1);
    const rows = await runs();
    expect(rows.map((x) => [x.status, x.owner_replica, x.lease_epoch])).toEqual([
      ["RUNNING", "r", 1],
      ["PENDING", null, 0],
      ["AVAILABLE", null, 0],
    ]);
    expect(exec.started.map((x) => x.id)).toEqual([rows[0]!.id]);
    expect(exec.started[0]).toMatchObject({ taskId: taskIds[0], epoch: 1, schemaVersion: "0001" });
    const log = await t.db
      .selectFrom("task_run_log")
      .select(["payload", "replica_id"])
      .where("task_run_id", "=", rows[0]!.id)
      .where("type", "=", "STATUS")
      .orderBy("id")
      .execute();
    expect(log.at(-1)).toMatchObject({
      replica_id: "r",
      payload: { status: "RUNNING", from: "PENDING", by: "pending-scheduler", epoch: 1, message: "all gates passed; claimed by r" },
    });
  });

  it("claims nothing while a run is AVAILABLE (none starts ahead of a run waiting for an executor), nor in a full pass", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { exec, pending, held, running } = await replica(4);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      [
        task(instanceId, "w", { type: TaskType.DATABASE_DATA_UPDATE }),
        task(instanceId, "a", { schemaVersion: "0001" }),
        task(instanceId, "b", { schemaVersion: "0001" }),
      ],
      { run: false },
    );
    // A data update waiting for an executor (created AVAILABLE, nothing claims it here).
    await tasksRun(t.db, { rolloutId, taskIds: [taskIds[0]!], runAt: null, actor: "alice", now: new Date() });
    await tasksRun(t.db, { rolloutId, taskIds: [taskIds[1]!], runAt: null, actor: "alice", now: new Date() });
    expect(await pending.runOnce()).toMatchObject({ kind: "live", promoted: 1, claimed: 0 });
    // Nor does it hold the replica's free slots meanwhile, which would keep them from the replica's own claims.
    expect(held.count).toBe(0);
    const free = running.hold();
    expect(free?.claim.limit).toBe(4);
    free?.release();
    // With those two canceled nothing is AVAILABLE, but a full pass claims nothing either.
    const available = (await runs()).map((x) => x.id);
    await taskRunsCancel(t.db, { rolloutId, taskRunIds: available, actor: "alice", now: new Date(), replicaId: null });
    await tasksRun(t.db, { rolloutId, taskIds: [taskIds[2]!], runAt: null, actor: "alice", now: new Date() });
    expect(await pending.runOnce({ full: true })).toMatchObject({ kind: "full", promoted: 1, claimed: 0 });
    expect((await runs()).map((x) => x.status)).toEqual(["CANCELED", "CANCELED", "AVAILABLE"]);
    expect(exec.started).toEqual([]);
  });

  it("the claimed run's finish frees its database for the next version, which the next live pass claims in turn", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { exec, pending } = await replica(2);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      [task(instanceId, "a", { schemaVersion: "0001" }), task(instanceId, "a", { schemaVersion: "0002" })],
      { run: false },
    );
    await tasksRun(t.db, { rolloutId, taskIds, runAt: null, actor: "alice", now: new Date() });
    expect(await pending.runOnce()).toMatchObject({ promoted: 1, claimed: 1 });
    exec.finishAll();
    await waitFor(async () => (await runs())[0]!.status === "DONE");
    expect(await pending.runOnce()).toMatchObject({ promoted: 1, claimed: 1 });
    await waitFor(async () => exec.started.length === 2);
    expect(exec.started[1]).toMatchObject({ taskId: taskIds[1], schemaVersion: "0002" });
    exec.finishAll();
    await waitFor(async () => (await runs()).every((x) => x.status === "DONE"));
  });

  it("the promote claims no run of a rollout paused since the pass read its controls (the claim's guard)", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(t.db, projectId, [task(instanceId, "a", { schemaVersion: "0001" })]);
    const runId = (await runs())[0]!.id;
    // As if the pass had decided before the pause committed: the promote is what sees it.
    await rolloutPauseApi(t.db, { rolloutId, by: "alice", reason: "hold", now: new Date() });
    const claim = { replicaId: "r", limit: 4, leaseTtlMs: 60_000 };
    const { promoted, claimed } = await gatingPromote(t.db, [runId], new Date(), "r", claim);
    expect([...promoted]).toEqual([runId]);
    expect(claimed).toEqual([]);
    expect((await runs()).map((x) => [x.task_id, x.status, x.owner_replica])).toEqual([[taskIds[0], "AVAILABLE", null]]);
  });
});
