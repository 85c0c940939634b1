import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

const scheduler = (opts: { fullPassIntervalMs?: number } = {}) =>
  new PendingScheduler({
    db: t.db,
    clock: { now: () => new Date() },
    replicaId: "r1",
    fullPassIntervalMs: opts.fullPassIntervalMs ?? 3_600_000,
  });

async function runs() {
  const rows = await t.db
    .selectFrom("task_run")
    .innerJoin("task", "task.id", "task_run.task_id")
    .leftJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
    .select(["task_run.task_id", "task_run.status", "task_run_wait.cause as waiting_cause", "task.status as task_status"])
    .orderBy("task_run.task_id")
    .execute();
  return rows as { task_id: string; status: string; waiting_cause: Record<string, unknown> | null; task_status: string }[];
}

describe("pending scheduler gates", () => {
  it("a run no gate can hold is created AVAILABLE; any gate that could apply makes it PENDING", async () => {
    const free = await seedProject(t.db, { id: "free" });
    const limited = await seedProject(t.db, { id: "limited", limit: 5 });
    const data = (instanceId: string, database: string, schemaVersion: string | null = null) =>
      task(instanceId, database, { type: TaskType.DATABASE_DATA_UPDATE, schemaVersion });
    const a = await seedRollout(t.db, free.projectId, [
      data(free.instanceId, "a"),
      data(free.instanceId, "b", "0001"),
      task(free.instanceId, "c"),
    ]);
    const b = await seedRollout(t.db, limited.projectId, [data(limited.instanceId, "d")]);
    const c = await seedRollout(t.db, free.projectId, [data(free.instanceId, "e")], { runAt: new Date(Date.now() + 3_600_000) });
    const byTask = new Map((await runs()).map((r) => [r.task_id, r]));
    expect(byTask.get(a.taskIds[0]!)).toMatchObject({ status: "AVAILABLE", task_status: "AVAILABLE" });
    for (const id of [a.taskIds[1], a.taskIds[2], b.taskIds[0], c.taskIds[0]]) expect(byTask.get(id!)?.status).toBe("PENDING");
    const log = await t.db
      .selectFrom("task_run_log")
      .innerJoin("task_run", "task_run.id", "task_run_log.task_run_id")
      .select("payload")
      .where("task_run.task_id", "=", a.taskIds[0]!)
      .execute();
    expect(log.map((l) => l.payload)).toEqual([
      expect.objectContaining({ status: "AVAILABLE", message: "created by test; no gate applies" }),
    ]);
  });

  it("promotes a run nothing holds, and AVAILABLE is the task's own status", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a")]);
    const r = await scheduler().runOnce();
    expect(r?.promoted).toBe(1);
    const [run] = await runs();
    expect(run).toMatchObject({ status: "AVAILABLE", task_status: "AVAILABLE", waiting_cause: null });
  });

  it("RUN_AT: a run scheduled in the future waits with its run-at time", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const runAt = new Date(Date.now() + 3_600_000);
    await seedRollout(t.db, projectId, [task(instanceId, "a")], { runAt });
    await scheduler().runOnce();
    const [run] = await runs();
    expect(run!.status).toBe("PENDING");
    expect(run!.waiting_cause).toMatchObject({ type: "RUN_AT", runAt: runAt.toISOString() });
    expect(typeof run!.waiting_cause!.since).toBe("string");
  });

  it("RUN_AT: the run is promoted once its time has come (live pass)", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    let now = new Date();
    const s = new PendingScheduler({ db: t.db, clock: { now: () => now }, replicaId: "r1", fullPassIntervalMs: 3_600_000 });
    const runAt = new Date(now.getTime() + 60_000);
    await seedRollout(t.db, projectId, [task(instanceId, "a")], { runAt });
    await s.runOnce();
    expect((await runs())[0]!.status).toBe("PENDING");
    now = new Date(runAt.getTime() + 1);
    const r = await s.runOnce();
    expect(r).toMatchObject({ kind: "live", promoted: 1 });
  });

  it("VERSION_ORDER: names the nearest smaller unfinished version on the same database, across rollouts", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    // 0010 in one rollout (not started), 0003 and 0020 in another: versions compare numerically.
    const a = await seedRollout(t.db, projectId, [task(instanceId, "db", { schemaVersion: "0010" })], { run: false });
    await seedRollout(t.db, projectId, [
      task(instanceId, "db", { schemaVersion: "0020" }),
      task(instanceId, "db", { schemaVersion: "0003" }),
      task(instanceId, "other", { schemaVersion: "0001" }),
    ]);
    await scheduler().runOnce();
    const rs = await runs();
    const v20 = rs.find((r) => r.waiting_cause?.schemaVersion === "0010");
    expect(v20?.waiting_cause).toMatchObject({ type: "VERSION_ORDER", taskId: a.taskIds[0], schemaVersion: "0010" });
    const statuses = rs.map((r) => r.status).sort();
    expect(statuses).toEqual(["AVAILABLE", "AVAILABLE", "PENDING"]);
  });

  it("VERSION_ORDER: 1.2.9 < 1.2.10, and a DONE or SKIPPED smaller version no longer holds", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      [task(instanceId, "db", { schemaVersion: "1.2.10" }), task(instanceId, "db", { schemaVersion: "1.2.9" })],
      { run: false },
    );
    const { tasksRun, tasksSkip } = await import("../src/store/task-actions.js");
    await tasksRun(t.db, { rolloutId, taskIds: [taskIds[0]!], runAt: null, actor: "t", now: new Date() });
    await scheduler().runOnce();
    let [run] = await runs();
    expect(run!.waiting_cause).toMatchObject({ type: "VERSION_ORDER", taskId: taskIds[1], schemaVersion: "1.2.9" });
    await tasksSkip(t.db, { rolloutId, taskIds: [taskIds[1]!], reason: "not needed", now: new Date() });
    const r = await scheduler().runOnce();
    expect(r).toMatchObject({ kind: "full", promoted: 1 });
    [run] = await runs();
    expect(run!.status).toBe("AVAILABLE");
  });

  it("DATABASE_BUSY: one sequential change per database; data updates are not held", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, "db"),
      task(instanceId, "db", { type: TaskType.DATABASE_SDL }),
      task(instanceId, "db", { type: TaskType.DATABASE_DATA_UPDATE }),
    ]);
    await scheduler().runOnce();
    const rs = await runs();
    expect(rs.map((r) => r.status)).toEqual(["AVAILABLE", "PENDING", "AVAILABLE"]);
    expect(rs[1]!.waiting_cause).toMatchObject({ type: "DATABASE_BUSY", taskId: taskIds[0] });
  });

  it("PARALLEL_LIMIT: AVAILABLE+RUNNING per rollout never exceed the project's limit", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 2 });
    await seedRollout(
      t.db,
      projectId,
      ["a", "b", "c", "d"].map((d) => task(instanceId, d)),
    );
    await scheduler().runOnce();
    const rs = await runs();
    expect(rs.map((r) => r.status)).toEqual(["AVAILABLE", "AVAILABLE", "PENDING", "PENDING"]);
    expect(rs[2]!.waiting_cause).toMatchObject({ type: "PARALLEL_LIMIT", limit: 2 });
  });

  it("records the first gate that holds, and rewrites a cause only when it changes", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    const s = scheduler();
    await s.runOnce({ full: true });
    const before = (await runs())[1]!.waiting_cause!;
    const again = await s.runOnce({ full: true });
    expect(again!.causesWritten).toBe(0);
    expect((await runs())[1]!.waiting_cause).toEqual(before);
  });

  it("fails runs whose instance was deleted, with a clear result", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    const { instanceDelete } = await import("../src/store/instances.js");
    await instanceDelete(t.db, instanceId);
    const r = await scheduler().runOnce();
    expect(r!.failed).toBe(2);
    const row = await t.db.selectFrom("task_run").select(["status", "result"]).executeTakeFirstOrThrow();
    expect(row.status).toBe("FAILED");
    expect((row.result as { error: { message: string } }).error.message).toBe(`instance "${instanceId}" was deleted`);
  });
});
