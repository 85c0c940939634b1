import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * A live pass that promotes a sequential run on a database it did not read (the run was new) makes that
 * database busy: runs waiting there for another reason now wait for it, so the pass marks the database
 * for the next pass — only when such runs exist (a mark costs a statement and a whole pass).
 */
const t = useTestDatabase();

const clock = { now: () => new Date() };
function livePasses(replicaId: string, busyWaiters?: number): PendingScheduler {
  const s = new PendingScheduler({ db: t.db, clock, replicaId, fullPassIntervalMs: 1e12, ...(busyWaiters ? { busyWaiters } : {}) });
  (s as unknown as { fullDue: boolean }).fullDue = false; // live passes only
  return s;
}
const causeOf = async (rolloutId: string) =>
  (
    await t.db
      .selectFrom("task_run")
      .leftJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
      .select(["task_run.status", "task_run_wait.type"])
      .where("task_run.rollout_id", "=", rolloutId)
      .orderBy("task_run.id")
      .execute()
  ).map((r) => `${r.status}${r.type ? ` ${r.type}` : ""}`);

describe("a live pass's promotion on a database it did not read", () => {
  it("marks the database when other runs wait there, and their cause becomes DATABASE_BUSY", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    // Limit 1: the change on y takes the slot, the one on x waits for the limit.
    const first = await seedRollout(t.db, projectId, [task(instanceId, "y"), task(instanceId, "x")]);
    const passes = livePasses("p1");
    while ((await passes.runOnce())?.more);
    expect(await causeOf(first.rolloutId)).toEqual(["AVAILABLE", "PENDING PARALLEL_LIMIT"]);

    // Another rollout (its own limit) changes x: promoted, so x is busy.
    const second = await seedRollout(t.db, projectId, [task(instanceId, "x")]);
    const r = await passes.runOnce();
    expect(r?.promoted).toBe(1);
    expect(r?.more).toBe(true);
    expect(await t.db.selectFrom("gating_dirty_database").select(["instance_id", "database_name"]).execute()).toEqual([
      { instance_id: instanceId, database_name: "x" },
    ]);
    while ((await passes.runOnce())?.more);
    expect(await causeOf(second.rolloutId)).toEqual(["AVAILABLE"]);
    // The first gate that holds it now, as a full pass would record.
    expect(await causeOf(first.rolloutId)).toEqual(["AVAILABLE", "PENDING DATABASE_BUSY"]);
  });

  it("marks nothing when no other run waits there: no statement and no second pass", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    const first = await seedRollout(t.db, projectId, [task(instanceId, "y"), task(instanceId, "x")]);
    const passes = livePasses("p1");
    while ((await passes.runOnce())?.more);
    // z has nothing waiting: promoting a change there leaves no cause stale.
    await seedRollout(t.db, projectId, [task(instanceId, "z")]);
    const r = await passes.runOnce();
    expect(r?.promoted).toBe(1);
    expect(r?.more).toBe(false);
    expect(await t.db.selectFrom("gating_dirty_database").selectAll().execute()).toEqual([]);
    expect(await causeOf(first.rolloutId)).toEqual(["AVAILABLE", "PENDING PARALLEL_LIMIT"]);
  });
});

/**
 * A freed database: the live pass reads only its first few DATABASE_BUSY runs (busyWaiters). When those are
 * held by something else now, the database stays free and the pass marks it for the next few, until one
 * takes it; the runs left limit-held then wait on the new holder, which a further pass records.
 */
describe("a freed database whose first waiting runs are held by their rollout's limit", () => {
  it.each([1, 2, 4])("reaches the run that can take it, reading %i at a time", async (busyWaiters) => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    const passes = livePasses("p1", busyWaiters);
    const holder = await seedRollout(t.db, projectId, [task(instanceId, "x")]);
    while ((await passes.runOnce())?.more);
    // A's slot is taken by its change on y, so its three changes on x wait for the database, then the limit.
    const a = await seedRollout(t.db, projectId, [
      task(instanceId, "y"),
      task(instanceId, "x"),
      task(instanceId, "x"),
      task(instanceId, "x"),
    ]);
    const c = await seedRollout(t.db, projectId, [task(instanceId, "x")]);
    while ((await passes.runOnce())?.more);
    expect(await causeOf(a.rolloutId)).toEqual(["AVAILABLE", ...Array(3).fill("PENDING DATABASE_BUSY")]);
    expect(await causeOf(c.rolloutId)).toEqual(["PENDING DATABASE_BUSY"]);

    const claimed = await taskRunsClaim(t.db, { replicaId: "w", limit: 10, leaseTtlMs: 1e9, now: new Date() });
    const run = claimed.find((r) => r.taskId === holder.taskIds[0])!;
    await taskRunFinish(t.db, {
      runId: run.id,
      replicaId: "w",
      epoch: run.epoch,
      status: "DONE",
      result: {},
      message: "",
      now: new Date(),
    });
    let n = 0;
    const read: number[] = [];
    for (let r = await passes.runOnce(); ; r = await passes.runOnce()) {
      read.push(r!.candidates);
      if (!r?.more || ++n > 10) break;
    }
    // No pass reads more of the database's queue than busyWaiters, plus the limit-held runs once it is busy.
    expect(Math.max(...read)).toBeLessThanOrEqual(Math.max(busyWaiters, 3));
    expect(await causeOf(c.rolloutId)).toEqual(["AVAILABLE"]);
    // y's run was claimed with the holder's.
    expect(await causeOf(a.rolloutId)).toEqual(["RUNNING", ...Array(3).fill("PENDING DATABASE_BUSY")]);
  });
});

/**
 * A sequential versioned run that ends marks its database and its task: the live read reads the runs above its
 * version with the freed database's (splitLiveMarks). When a lower version is pending there (created after the
 * one that ran), the runs above the finished version are not the database's smallest pending version, yet their
 * cause named the finished one: they must be read all the same.
 */
describe("a finished version on a freed database with a lower version pending", () => {
  it("re-reads the runs above it, whose cause named it", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 0 });
    const passes = livePasses("p1");
    const settle = async () => {
      for (let n = 0; (await passes.runOnce())?.more; n++) expect(n).toBeLessThan(10);
    };
    const causes = async () =>
      (
        await t.db
          .selectFrom("task_run")
          .leftJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
          .select(["task_run.task_id", "task_run.status", "task_run_wait.type", "task_run_wait.cause"])
          .orderBy("task_run.id")
          .execute()
      ).map((r) => [r.task_id, r.status, r.type, (r.cause as { taskId?: string } | null)?.taskId ?? null]);
    const a = await seedRollout(t.db, projectId, [task(instanceId, "x", { schemaVersion: "0002" })]);
    await settle();
    const [run] = await taskRunsClaim(t.db, { replicaId: "w", limit: 10, leaseTtlMs: 1e9, now: new Date() });
    expect(run!.taskId).toBe(a.taskIds[0]);
    const b = await seedRollout(t.db, projectId, [task(instanceId, "x", { schemaVersion: "0003" })]);
    await settle();
    const c = await seedRollout(t.db, projectId, [task(instanceId, "x", { schemaVersion: "0001" })]);
    await settle();
    // b waits for a, the nearest version below it; c (below a) for the database a holds.
    expect(await causes()).toEqual([
      [a.taskIds[0], "RUNNING", null, null],
      [b.taskIds[0], "PENDING", "VERSION_ORDER", a.taskIds[0]],
      [c.taskIds[0], "PENDING", "DATABASE_BUSY", a.taskIds[0]],
    ]);

    await taskRunFinish(t.db, {
      runId: run!.id,
      replicaId: "w",
      epoch: run!.epoch,
      status: "DONE",
      result: {},
      message: "",
      now: new Date(),
    });
    await settle();
    const live = await causes();
    // c takes the database; b now waits for c's version, as a full pass records it.
    expect(live).toEqual([
      [a.taskIds[0], "DONE", null, null],
      [b.taskIds[0], "PENDING", "VERSION_ORDER", c.taskIds[0]],
      [c.taskIds[0], "AVAILABLE", null, null],
    ]);
    await passes.runOnce({ full: true });
    expect(await causes()).toEqual(live);
  });
});
