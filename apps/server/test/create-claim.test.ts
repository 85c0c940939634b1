import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { RunningScheduler, type RunningSchedulerDeps } from "../src/scheduler/running-scheduler.js";
import { tasksRun, tasksRunAndClaim } from "../src/store/task-actions.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { runningScheduler } from "./helpers/runtime.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

const dataTask = (instanceId: string, db: string) =>
  task(instanceId, db, { type: TaskType.DATABASE_DATA_UPDATE, statement: "UPDATE t SET x = 1" });

const runs = () =>
  t.db
    .selectFrom("task_run")
    .innerJoin("task", "task.id", "task_run.task_id")
    .select([
      "task_run.id",
      "task_run.task_id",
      "task_run.status",
      "task_run.owner_replica",
      "task_run.lease_epoch",
      "task_run.lease_expires_at",
      "task_run.started_at",
      "task.status as task_status",
    ])
    .orderBy("task_run.task_id")
    .execute();

const statusLog = (runId: string) =>
  t.db.selectFrom("task_run_log").select("payload").where("task_run_id", "=", runId).where("type", "=", "STATUS").orderBy("id").execute();

const replica = (exec: DeferredExecutor, concurrency: number, deps: Partial<RunningSchedulerDeps> = {}) =>
  runningScheduler(t.db, exec, concurrency, deps);

describe("a create that claims for the replica serving it (RunningScheduler.create, taskRunsCreateAndClaim)", () => {
  it("creates up to the free slots RUNNING under the replica's lease and starts them; the rest AVAILABLE; a finish then claims those", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      ["a", "b", "c", "d"].map((d) => dataTask(instanceId, d)),
      { run: false },
    );
    const exec = new DeferredExecutor();
    const r = replica(exec, 2);
    const before = new Date(Date.now() - 1000);
    const { results, claimed } = await r.create((claim) =>
      tasksRunAndClaim(t.db, { rolloutId, taskIds, runAt: null, actor: "alice", now: new Date(), claim }),
    );
    expect(results.map((x) => x.outcome)).toEqual(["CREATED", "CREATED", "CREATED", "CREATED"]);
    // The first two tasks by id: claimed with epoch 1, as a claim of a new run would be.
    expect(claimed.map((c) => [c.taskId, c.epoch])).toEqual([
      [taskIds[0], 1],
      [taskIds[1], 1],
    ]);
    expect(claimed[0]!.connectionUrl).toContain("127.0.0.1");
    const rows = await runs();
    expect(rows.map((x) => [x.status, x.owner_replica, x.lease_epoch, x.task_status])).toEqual([
      ["RUNNING", "r", 1, "RUNNING"],
      ["RUNNING", "r", 1, "RUNNING"],
      ["AVAILABLE", null, 0, "AVAILABLE"],
      ["AVAILABLE", null, 0, "AVAILABLE"],
    ]);
    for (const x of rows.slice(0, 2)) {
      expect(x.lease_expires_at!.getTime()).toBeGreaterThan(Date.now() + 30_000);
      expect(x.started_at!.getTime()).toBeGreaterThan(before.getTime());
    }
    await waitFor(async () => exec.started.length === 2);
    expect(exec.started.map((x) => x.id)).toEqual(rows.slice(0, 2).map((x) => x.id));
    // One STATUS entry: created and claimed, by the API, on the replica that claimed it.
    const log = await statusLog(rows[0]!.id);
    expect(log).toHaveLength(1);
    expect(log[0]!.payload).toMatchObject({ status: "RUNNING", from: null, to: "RUNNING", by: "api", replica: "r", epoch: 1 });
    expect((log[0]!.payload as unknown as { message: string }).message).toBe("created by alice; no gate applies; claimed by r");
    // The owner's finish is fenced by (owner, epoch 1) like any other, and claims the two left.
    exec.finishAll();
    await waitFor(async () => (await runs()).filter((x) => x.status === "DONE").length === 2);
    await waitFor(async () => exec.started.length === 4);
    exec.finishAll();
    await waitFor(async () => (await runs()).every((x) => x.status === "DONE" && x.task_status === "DONE"));
  });

  it("claims nothing while a run is AVAILABLE already (no new run starts ahead of one waiting), nor a run a gate may hold", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      [dataTask(instanceId, "a"), dataTask(instanceId, "b"), task(instanceId, "c")],
      { run: false },
    );
    const exec = new DeferredExecutor();
    const r = replica(exec, 4);
    // A run waiting for an executor (created without a claim).
    await tasksRun(t.db, { rolloutId, taskIds: [taskIds[0]!], runAt: null, actor: "alice", now: new Date() });
    const made = await r.create((claim) =>
      tasksRunAndClaim(t.db, { rolloutId, taskIds: [taskIds[1]!], runAt: null, actor: "alice", now: new Date(), claim }),
    );
    expect(made.claimed).toEqual([]);
    // A schema change can be held (version order, one change per database): PENDING, for the pending pass.
    const change = await r.create((claim) =>
      tasksRunAndClaim(t.db, { rolloutId, taskIds: [taskIds[2]!], runAt: null, actor: "alice", now: new Date(), claim }),
    );
    expect(change.claimed).toEqual([]);
    expect((await runs()).map((x) => [x.status, x.owner_replica])).toEqual([
      ["AVAILABLE", null],
      ["AVAILABLE", null],
      ["PENDING", null],
    ]);
    expect(exec.started).toEqual([]);
  });

  it("claims nothing for a replica without free slots, or one that may not claim", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(t.db, projectId, [dataTask(instanceId, "a"), dataTask(instanceId, "b")], {
      run: false,
    });
    const exec = new DeferredExecutor();
    const r = replica(exec, 1);
    const first = await r.create((claim) =>
      tasksRunAndClaim(t.db, { rolloutId, taskIds: [taskIds[0]!], runAt: null, actor: "a", now: new Date(), claim }),
    );
    expect(first.claimed).toHaveLength(1);
    let offered: unknown = "not called";
    await r.create((claim) => {
      offered = claim;
      return tasksRunAndClaim(t.db, { rolloutId, taskIds: [taskIds[1]!], runAt: null, actor: "a", now: new Date(), claim });
    });
    expect(offered).toBeUndefined();
    // Its heartbeat does not get through.
    const sick = replica(exec, 4, { replicaId: "s", mayClaim: () => false });
    await sick.create(async (claim) => {
      offered = claim;
      return { claimed: [] };
    });
    expect(offered).toBeUndefined();
    // The first run's finish claims the second for the slot it frees.
    exec.finishAll();
    await waitFor(async () => exec.started.length === 2);
    exec.finishAll();
    await waitFor(async () => (await runs()).every((x) => x.status === "DONE"));
  });

  it("a claim woken while a create held the slots (and claimed nothing) goes again once the create returns", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(t.db, projectId, [dataTask(instanceId, "a")], { run: false });
    const exec = new DeferredExecutor();
    let wakes = 0;
    // The claims the wakes start, awaited before the test ends: one still in flight would meet a closed pool.
    const woken: Promise<number>[] = [];
    const r: RunningScheduler = replica(exec, 2, {
      onSlotFree: () => {
        wakes++;
        woken.push(r.runOnce());
      },
    });
    await r.create(async () => {
      // Created AVAILABLE (as when another run was AVAILABLE already), and its NOTIFY wakes the claim loop
      // before the create returns: every free slot is reserved, so that claim takes nothing.
      await tasksRun(t.db, { rolloutId, taskIds, runAt: null, actor: "a", now: new Date() });
      expect(await r.runOnce()).toBe(0);
      return { claimed: [] };
    });
    expect(wakes).toBe(1);
    await waitFor(async () => exec.started.length === 1);
    exec.finishAll();
    await waitFor(async () => (await runs()).every((x) => x.status === "DONE"));
    // A create that left no claim behind wakes nothing (the run's end woke the loop once more).
    const before = wakes;
    await r.create(async () => ({ claimed: [] }));
    expect(wakes).toBe(before);
    await Promise.all(woken);
  });
});
