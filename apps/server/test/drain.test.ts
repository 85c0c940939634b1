import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import type { ExecOutcome, Executor } from "../src/executors/types.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

const clock = { now: () => new Date() };

describe("drain (SIGTERM)", () => {
  it("stops claiming, lets running tasks finish within the grace period, then releases the rest", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [
      task(instanceId, "a"),
      task(instanceId, "b", { statement: "UPDATE t SET x = 1" }),
      task(instanceId, "c", { statement: "VACUUM t" }),
      task(instanceId, "d"),
    ]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const exec = new DeferredExecutor();
    const r = new RunningScheduler({ db: t.db, clock, replicaId: "r", concurrency: 3, leaseTtlMs: 60_000, executorFor: () => exec });
    expect(await r.runOnce()).toBe(3);
    const [first, second, third] = exec.started;
    const draining = r.drain(500);
    // Claiming stopped: the fourth AVAILABLE run stays where it is.
    expect(await r.runOnce()).toBe(0);
    exec.finish(first!.id);
    await draining;
    const status = async (id: string) =>
      await t.db.selectFrom("task_run").select(["status", "owner_replica"]).where("id", "=", id).executeTakeFirstOrThrow();
    expect(await status(first!.id)).toMatchObject({ status: "DONE" });
    // Aborted at the end of the grace period: re-runnable goes back to AVAILABLE, VACUUM cannot be re-run.
    expect(await status(second!.id)).toMatchObject({ status: "AVAILABLE", owner_replica: null });
    expect(await status(third!.id)).toMatchObject({ status: "FAILED" });
    expect(r.activeCount).toBe(0);
    await waitFor(async () => (await t.db.selectFrom("task_run").select("id").where("status", "=", "AVAILABLE").execute()).length === 2);
  });

  it("returns within grace + its bound even when an execution ignores its abort; the run is left RUNNING for the sweeper", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    // A target gone silent: the execution never returns, whatever its signal says.
    const silent: Executor = { execute: () => new Promise<ExecOutcome>(() => undefined) };
    const errors: string[] = [];
    const r = new RunningScheduler({
      db: t.db,
      clock,
      replicaId: "r",
      concurrency: 2,
      leaseTtlMs: 60_000,
      executorFor: () => silent,
      onError: (e) => errors.push(String(e)),
    });
    expect(await r.runOnce()).toBe(2);
    const started = Date.now();
    await r.drain(300, 300);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(errors.join()).toContain("left to the sweeper");
    const runs = await t.db.selectFrom("task_run").select(["status", "owner_replica"]).execute();
    expect(runs).toEqual([
      { status: "RUNNING", owner_replica: "r" },
      { status: "RUNNING", owner_replica: "r" },
    ]);
  });
});
