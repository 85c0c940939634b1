import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler, type RunningSchedulerDeps } from "../src/scheduler/running-scheduler.js";
import type { ClaimedRun } from "../src/store/runs.js";
import type { ExecContext, ExecOutcome, Executor } from "../src/executors/types.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();
const clock = { now: () => new Date() };

/** A DeferredExecutor that records the most runs it ever executed at once. */
class CountingExecutor implements Executor {
  readonly inner = new DeferredExecutor();
  most = 0;
  async execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    this.most = Math.max(this.most, this.inner.executing.length + 1);
    return this.inner.execute(run, ctx);
  }
}

async function runsByDatabase(): Promise<Map<string, { id: string; status: string; owner_replica: string | null }>> {
  const rows = await t.db.selectFrom("task_run").select(["id", "status", "owner_replica", "database_name"]).orderBy("id").execute();
  return new Map(rows.map((r) => [r.database_name, r]));
}

/** A run's latest STATUS log entry. */
const lastStatusLog = (runId: string) =>
  t.db
    .selectFrom("task_run_log")
    .select("payload")
    .where("task_run_id", "=", runId)
    .where("type", "=", "STATUS")
    .orderBy("id", "desc")
    .executeTakeFirstOrThrow();

const running = async (replica: string) =>
  (await t.db.selectFrom("task_run").select("id").where("status", "=", "RUNNING").where("owner_replica", "=", replica).execute()).length;

/** The seeded runs made AVAILABLE, and a replica with `concurrency` slots that claims two ahead. */
async function replicaFor(executor: Executor, concurrency: number, deps: Partial<RunningSchedulerDeps> = {}): Promise<RunningScheduler> {
  await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
  return new RunningScheduler({
    db: t.db,
    clock,
    replicaId: "r",
    concurrency,
    claimAhead: 2,
    leaseTtlMs: 60_000,
    executorFor: () => executor,
    ...deps,
  });
}

/**
 * On a one-slot replica that claims two ahead: `a` runs and finishes, and its finish claims `b` for the slot
 * and `c`, `d` ahead of it; only `b` executes. Returns the runs by database.
 */
async function finishFirstClaimingAhead(r: RunningScheduler, exec: DeferredExecutor) {
  expect(await r.runOnce()).toBe(1);
  exec.finishAll();
  await waitFor(async () => (await running("r")) === 3);
  const runs = await runsByDatabase();
  expect(exec.executing).toEqual([runs.get("b")!.id]);
  return runs;
}

describe("claiming ahead of free slots (RUNWAY_CLAIM_AHEAD)", () => {
  it("claims ahead only once its runs are quick, never executes more than its slots, and starts a run claimed ahead as a slot frees", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 12 }, (_, i) => task(instanceId, `db${i}`)),
    );
    const exec = new CountingExecutor();
    // Runs count as quick up to 10 s here, so a loaded machine cannot make the test's own runs slow.
    const r = await replicaFor(exec, 2, { claimAheadQuickRunMs: 10_000 });
    // No run has ended yet, so nothing says they are quick: only the free slots.
    expect(await r.runOnce()).toBe(2);
    expect(await running("r")).toBe(2);
    exec.inner.finishAll();
    // Two quick runs ended: their finish claims for the two slots they free and two runs ahead.
    await waitFor(async () => (await running("r")) === 4);
    expect(exec.inner.executing).toHaveLength(2);
    expect(r.activeCount).toBe(4);
    expect(await r.runOnce()).toBe(0);
    // A slot frees: a run claimed ahead starts at once, before the finish statement claims more.
    const before = exec.inner.started.length;
    exec.inner.finish(exec.inner.executing[0]!);
    await waitFor(async () => exec.inner.started.length === before + 1);
    // The rest: whatever executes is finished until every run is DONE.
    await waitFor(async () => {
      exec.inner.finishAll();
      return [...(await runsByDatabase()).values()].every((x) => x.status === "DONE");
    });
    expect(exec.most).toBe(2);
    expect(new Set(exec.inner.started.map((x) => x.id)).size).toBe(12);
  });

  it("an executor that throws (even synchronously) frees its slot", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    const started: string[] = [];
    const errors: unknown[] = [];
    const throwing: Executor = {
      execute: (run) => {
        started.push(run.id);
        if (started.length === 1) throw new Error("executor bug");
        return Promise.resolve({ status: "DONE", result: {}, message: "ok" });
      },
    };
    const r = await replicaFor(throwing, 1, { onError: (e) => errors.push(e) });
    expect(await r.runOnce()).toBe(1);
    await waitFor(async () => errors.length === 1);
    // The slot is free again: the second run is claimed and executed.
    expect(await r.runOnce()).toBe(1);
    await waitFor(async () => started.length === 2 && (await runsByDatabase()).get("b")!.status === "DONE");
  });

  it("a slow run stops claiming ahead at once, and the runs claimed ahead of it go back AVAILABLE, unexecuted", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b"), task(instanceId, "c"), task(instanceId, "d")]);
    const exec = new DeferredExecutor();
    // A quick run is one under 300 ms: a finishes at once, b is held (a migration that takes minutes).
    const r = await replicaFor(exec, 1, { claimAheadQuickRunMs: 300 });
    const runs = await finishFirstClaimingAhead(r, exec);
    // Neither c nor d can start while b holds the one slot: both are given back, and none is claimed again.
    await waitFor(async () => {
      const now = await runsByDatabase();
      return now.get("c")!.status === "AVAILABLE" && now.get("d")!.status === "AVAILABLE";
    });
    expect(await r.runOnce()).toBe(0);
    expect(await running("r")).toBe(1);
    const log = await lastStatusLog(runs.get("c")!.id);
    expect(log.payload).toMatchObject({ from: "RUNNING", to: "AVAILABLE", by: "owner" });
    expect(JSON.stringify(log.payload)).toContain("given back");
    exec.finishAll();
    await waitFor(async () => {
      exec.finishAll();
      return [...(await runsByDatabase()).values()].every((x) => x.status === "DONE");
    });
    expect(exec.started.map((x) => x.id).sort()).toEqual([...(await runsByDatabase()).values()].map((x) => x.id).sort());
  });

  it("a draining replica gives back the runs it claimed ahead at once (AVAILABLE even when not re-runnable); a canceled one is CANCELED unexecuted", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [
      task(instanceId, "a"),
      task(instanceId, "b", { statement: "UPDATE t SET x = 1" }),
      task(instanceId, "c", { statement: "VACUUM t" }),
      task(instanceId, "d", { statement: "UPDATE t SET x = 2" }),
    ]);
    const exec = new DeferredExecutor();
    const r = await replicaFor(exec, 1, { claimAheadQuickRunMs: 10_000 });
    const runs = await finishFirstClaimingAhead(r, exec);
    r.cancel([runs.get("d")!.id]);
    await waitFor(async () => (await runsByDatabase()).get("d")!.status === "CANCELED");
    const draining = r.drain(60_000);
    // c never started: back to AVAILABLE for another replica now, not after the grace period.
    await waitFor(async () => (await runsByDatabase()).get("c")!.status === "AVAILABLE", { timeoutMs: 10_000 });
    expect((await runsByDatabase()).get("c")).toMatchObject({ owner_replica: null });
    exec.finish(runs.get("b")!.id);
    await draining;
    const after = await runsByDatabase();
    expect(after.get("b")).toMatchObject({ status: "DONE" });
    expect(exec.started.map((x) => x.id)).toEqual([runs.get("a")!.id, runs.get("b")!.id]);
    const log = await lastStatusLog(runs.get("c")!.id);
    expect(log.payload).toMatchObject({ from: "RUNNING", to: "AVAILABLE", by: "drain" });
    expect(JSON.stringify(log.payload)).toContain("before the run started");
  });
});
