import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import type { TargetReconciler } from "../src/executors/types.js";
import { Sweeper } from "../src/scheduler/sweeper.js";
import { taskRunAppendLog, taskRunFinish, taskRunsClaim, taskRunsRenewLeases } from "../src/store/runs.js";
import { createDb, createPool } from "../src/store/db.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

const clock = { now: () => new Date() };

describe("running scheduler", () => {
  it("three replicas contending claim every AVAILABLE run exactly once", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 30 }, (_, i) => task(instanceId, `db${i}`)),
    );
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    // Each replica gets its own pool so the claims really race on the server.
    const pools = [1, 2, 3].map(() => createPool(t.url, 4));
    const executors = pools.map(() => new DeferredExecutor());
    const replicas = pools.map(
      (pool, i) =>
        new RunningScheduler({
          db: createDb(pool),
          clock,
          replicaId: `r${i}`,
          concurrency: 12,
          leaseTtlMs: 60_000,
          executorFor: () => executors[i]!,
        }),
    );
    try {
      for (let round = 0; round < 5; round++) await Promise.all(replicas.map((r) => r.runOnce()));
      const started = executors.flatMap((e) => e.started.map((r) => r.id));
      expect(started).toHaveLength(30);
      expect(new Set(started).size).toBe(30);
      // Bounded by free slots: nobody claimed more than its concurrency.
      for (const e of executors) expect(e.started.length).toBeLessThanOrEqual(12);
      const owners = await t.db.selectFrom("task_run").select(["status", "owner_replica"]).execute();
      expect(owners.every((o) => o.status === "RUNNING" && o.owner_replica)).toBe(true);
      for (const e of executors) e.finishAll();
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("a finish refills the slots it frees in the same statement, never beyond the concurrency, and each outcome is fenced", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 7 }, (_, i) => task(instanceId, `db${i}`)),
    );
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const exec = new DeferredExecutor();
    const claims: number[] = [];
    const rs = new RunningScheduler({
      db: t.db,
      clock,
      replicaId: "r",
      concurrency: 3,
      leaseTtlMs: 60_000,
      executorFor: () => exec,
      onClaim: (runs) => claims.push(runs.length),
    });
    expect(await rs.runOnce()).toBe(3);
    const running = async () => (await t.db.selectFrom("task_run").select("id").where("status", "=", "RUNNING").execute()).length;
    const startedBefore = exec.started.length;
    // Two finish at once: both outcomes and two new claims go out together (no runOnce in between).
    exec.finish(exec.executing[0]!);
    exec.finish(exec.executing[0]!);
    await waitFor(async () => exec.started.length === startedBefore + 2, { what: "two runs claimed by the finish" });
    expect(await running()).toBe(3);
    expect(rs.activeCount).toBeLessThanOrEqual(3 + 2);
    // A run whose lease another replica took over: its outcome is not written and nothing is claimed beyond the slots.
    const [victim] = exec.executing;
    await sql`UPDATE task_run SET owner_replica = 'other', lease_epoch = lease_epoch + 1 WHERE id = ${victim}`.execute(t.db);
    exec.finish(victim!);
    await waitFor(async () => exec.started.length === startedBefore + 3, { what: "slot refilled" });
    expect(
      (await t.db.selectFrom("task_run").select("owner_replica").where("id", "=", victim!).executeTakeFirstOrThrow()).owner_replica,
    ).toBe("other");
    expect(await running()).toBe(4); // 3 of ours + the one "other" owns
    await waitFor(
      async () => {
        exec.finishAll(); // finishes claim the remaining runs, which are deferred in turn
        return rs.activeCount === 0 && (await running()) <= 1;
      },
      { what: "drained" },
    );
    expect(exec.started.length).toBe(7);
    expect(claims[0]).toBe(3);
  });

  it("a run whose row another transaction holds locked does not hold up the renewal of the owner's other leases", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const [a, b] = await taskRunsClaim(t.db, { replicaId: "r", limit: 2, leaseTtlMs: 60_000, now: new Date() });
    const other = await t.pool.connect();
    try {
      // What a cancel in progress on a frozen replica holds.
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM task_run WHERE id = $1 FOR UPDATE", [a!.id]);
      const runs = [
        { runId: a!.id, epoch: a!.epoch },
        { runId: b!.id, epoch: b!.epoch },
      ];
      const later = new Date(Date.now() + 30_000);
      const state = await taskRunsRenewLeases(t.db, { replicaId: "r", runs, leaseTtlMs: 60_000, now: later });
      expect(state.get(a!.id)).toEqual({ owned: false, cancelRequested: false, locked: true });
      expect(state.get(b!.id)).toEqual({ owned: true, cancelRequested: false, locked: false });
      await other.query("ROLLBACK");
      const after = await taskRunsRenewLeases(t.db, { replicaId: "someone-else", runs, leaseTtlMs: 60_000, now: later });
      expect(after.get(a!.id)).toEqual({ owned: false, cancelRequested: false, locked: false });
    } finally {
      other.release();
    }
  });

  it("a check with renewWithinMs reads a long lease (no write, no wait on a lock) and renews a short one", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b"), task(instanceId, "c")]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const now = new Date();
    const [a, b, c] = await taskRunsClaim(t.db, { replicaId: "r", limit: 3, leaseTtlMs: 60_000, now });
    const runs = [a!, b!, c!].map((x) => ({ runId: x.id, epoch: x.epoch }));
    // b's lease ends in 10 s, inside the 50 s window: renewed. a's and c's end in 60 s: read.
    await sql`UPDATE task_run SET lease_expires_at = ${new Date(now.getTime() + 10_000)} WHERE id = ${b!.id}`.execute(t.db);
    await sql`UPDATE task_run SET cancel_requested_at = ${now} WHERE id = ${c!.id}`.execute(t.db);
    const before = await sql<{ id: string; x: string; until: Date }>`
      SELECT id::text, xmin::text AS x, lease_expires_at AS until FROM task_run WHERE id IN (${a!.id}, ${b!.id}, ${c!.id})`.execute(t.db);
    const other = await t.pool.connect();
    try {
      // A lock on a, held by another transaction: a read does not wait for it, nor report it locked.
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM task_run WHERE id = $1 FOR UPDATE", [a!.id]);
      const state = await taskRunsRenewLeases(t.db, { replicaId: "r", runs, leaseTtlMs: 60_000, now, renewWithinMs: 50_000 });
      expect(state.get(a!.id)).toEqual({ owned: true, cancelRequested: false, locked: false });
      expect(state.get(b!.id)).toEqual({ owned: true, cancelRequested: false, locked: false });
      expect(state.get(c!.id)).toEqual({ owned: true, cancelRequested: true, locked: false });
      // The same check from a replica that does not own them, or with the wrong epoch: lost.
      const wrong = runs.map((x) => ({ ...x, epoch: x.epoch + 1 }));
      const lost = await taskRunsRenewLeases(t.db, { replicaId: "r", runs: wrong, leaseTtlMs: 60_000, now, renewWithinMs: 50_000 });
      expect([...lost.values()].every((s) => !s.owned && !s.locked)).toBe(true);
      const stranger = await taskRunsRenewLeases(t.db, { replicaId: "x", runs, leaseTtlMs: 60_000, now, renewWithinMs: 50_000 });
      expect([...stranger.values()].every((s) => !s.owned && !s.locked)).toBe(true);
    } finally {
      await other.query("ROLLBACK");
      other.release();
    }
    const after = await sql<{ id: string; x: string; until: Date }>`
      SELECT id::text, xmin::text AS x, lease_expires_at AS until FROM task_run WHERE id IN (${a!.id}, ${b!.id}, ${c!.id})`.execute(t.db);
    const was = new Map(before.rows.map((r) => [r.id, r]));
    for (const r of after.rows) {
      if (r.id === b!.id) {
        expect(r.until.getTime()).toBe(now.getTime() + 60_000);
        expect(r.x).not.toBe(was.get(r.id)!.x);
      } else {
        // Not written at all: the same row version.
        expect(r).toEqual(was.get(r.id));
      }
    }
  });

  it("two replicas' pending schedulers never promote two sequential runs on one database nor exceed the limit", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 3 });
    // 4 databases × 6 sequential changes, plus data updates, in one rollout with limit 3.
    const tasks = [];
    for (let i = 0; i < 6; i++) for (const d of ["a", "b", "c", "d"]) tasks.push(task(instanceId, d));
    for (let i = 0; i < 6; i++) tasks.push(task(instanceId, "a", { type: "DATABASE_DATA_UPDATE" }));
    await seedRollout(t.db, projectId, tasks);
    const pools = [createPool(t.url, 4), createPool(t.url, 4)];
    const pendings = pools.map(
      (pool, i) => new PendingScheduler({ db: createDb(pool), clock, replicaId: `p${i}`, fullPassIntervalMs: i === 0 ? 1e9 : 0 }),
    );
    const exec = new DeferredExecutor();
    const runner = new RunningScheduler({ db: t.db, clock, replicaId: "r", concurrency: 100, leaseTtlMs: 60_000, executorFor: () => exec });
    const check = async () => {
      const { rows } = await sql<{ busy: number; active: number }>`
        SELECT (SELECT coalesce(max(n), 0) FROM (SELECT count(*)::int AS n FROM task_run
                 WHERE status IN ('AVAILABLE', 'RUNNING') AND sequential GROUP BY instance_id, database_name) x) AS busy,
               (SELECT count(*)::int FROM task_run WHERE status IN ('AVAILABLE', 'RUNNING')) AS active`.execute(t.db);
      expect(rows[0]!.busy).toBeLessThanOrEqual(1);
      expect(rows[0]!.active).toBeLessThanOrEqual(3);
    };
    try {
      let done = 0;
      for (let round = 0; round < 60 && done < tasks.length; round++) {
        // Both replicas pass at the same instant; one of them gets the lock.
        const results = await Promise.all(pendings.map((p) => p.runOnce()));
        expect(results.filter((r) => r !== null).length).toBeGreaterThanOrEqual(1);
        await check();
        await runner.runOnce();
        await check();
        const running = exec.executing;
        if (running.length > 0) {
          exec.finish(running[0]!);
          done++;
          await waitUntilNotRunning(running[0]!);
        }
      }
      expect(done).toBe(tasks.length);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("a pass that cannot take the lock changes nothing", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a")]);
    const other = createPool(t.url, 1);
    const c = await other.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT pg_advisory_xact_lock(7301001)");
      const r = await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
      expect(r).toBeNull();
      const row = await t.db.selectFrom("task_run").select("status").executeTakeFirstOrThrow();
      expect(row.status).toBe("PENDING");
    } finally {
      await c.query("ROLLBACK");
      c.release();
      await other.end();
    }
  });
});

async function waitUntilNotRunning(runId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await t.db.selectFrom("task_run").select("status").where("id", "=", runId).executeTakeFirstOrThrow();
    if (r.status !== "RUNNING") return;
    if (Date.now() > deadline) throw new Error(`run ${runId} still RUNNING`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** These runs' targets are not real (DeferredExecutor): the target says nothing was applied. */
const nothingApplied: TargetReconciler = { reconcile: async () => ({ state: "not_applied" }) };

describe("leases, fencing and recovery", () => {
  it("a run taken over by recovery cannot be completed or logged by its old owner", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [task(instanceId, "a")]);
    let now = new Date();
    const clk = { now: () => now };
    await new PendingScheduler({ db: t.db, clock: clk, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const [a] = await taskRunsClaim(t.db, { replicaId: "A", limit: 1, leaseTtlMs: 1000, now });
    now = new Date(now.getTime() + 5000); // A stopped heartbeating; its lease expired
    expect(await new Sweeper({ db: t.db, clock: clk, replicaId: "S", reconciler: nothingApplied }).runOnce()).toMatchObject({
      requeued: 1,
      failed: 0,
    });
    const [b] = await taskRunsClaim(t.db, { replicaId: "B", limit: 1, leaseTtlMs: 60_000, now });
    expect(b!.id).toBe(a!.id);
    expect(b!.epoch).toBe(a!.epoch + 1);
    const fenceA = { runId: a!.id, replicaId: "A", epoch: a!.epoch };
    expect(await taskRunAppendLog(t.db, { ...fenceA, type: "X", payload: {}, now })).toBe(false);
    expect(await taskRunFinish(t.db, { ...fenceA, status: "DONE", result: {}, message: "zombie", now })).toBe(false);
    // Even the same replica name with the old epoch is fenced off (a zombie that re-claimed is a new epoch).
    expect(await taskRunFinish(t.db, { ...fenceA, replicaId: "B", status: "DONE", result: {}, message: "old epoch", now })).toBe(false);
    expect(
      await taskRunFinish(t.db, { runId: b!.id, replicaId: "B", epoch: b!.epoch, status: "DONE", result: {}, message: "ok", now }),
    ).toBe(true);
    const logs = await t.db.selectFrom("task_run_log").select(["type", "payload"]).where("task_run_id", "=", a!.id).orderBy("id").execute();
    expect(JSON.stringify(logs)).toContain("lease of replica A expired");
  });

  it("recovers runs of a replica that stopped heartbeating: re-runnable back to AVAILABLE, others FAILED", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [
      task(instanceId, "a", { statement: "UPDATE t SET x = 1" }),
      task(instanceId, "b", { statement: "CREATE INDEX CONCURRENTLY i ON t (x)" }),
    ]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const exec = new DeferredExecutor();
    // A replica with a tiny lease that never renews it (as if frozen or killed).
    const dead = new RunningScheduler({ db: t.db, clock, replicaId: "dead", concurrency: 5, leaseTtlMs: 200, executorFor: () => exec });
    expect(await dead.runOnce()).toBe(2);
    const sweeper = new Sweeper({ db: t.db, clock, replicaId: "S", reconciler: nothingApplied });
    const deadline = Date.now() + 10_000;
    let swept = { requeued: 0, failed: 0 };
    while (swept.requeued + swept.failed < 2 && Date.now() < deadline) {
      const r = await sweeper.runOnce();
      if (r) swept = { requeued: swept.requeued + r.requeued, failed: swept.failed + r.failed };
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(swept).toEqual({ requeued: 1, failed: 1 });
    const rows = await t.db
      .selectFrom("task_run")
      .innerJoin("task", "task.id", "task_run.task_id")
      .select(["task.database_name", "task_run.status", "task_run.result", "task.status as task_status"])
      .orderBy("task.id")
      .execute();
    expect(rows[0]).toMatchObject({ database_name: "a", status: "AVAILABLE", task_status: "AVAILABLE" });
    expect(rows[1]).toMatchObject({ database_name: "b", status: "FAILED", task_status: "FAILED" });
    expect((rows[1]!.result as { error: { message: string } }).error.message).toBe("owning replica stopped responding");
  });
});
