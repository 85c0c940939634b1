import { describe, expect, it } from "vitest";
import type { DryRunner, DryRunResult } from "../src/executors/dry-run.js";
import { DryRunScheduler } from "../src/scheduler/dry-run-scheduler.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { dryRunsClaim, dryRunsQueue } from "../src/store/dry-runs.js";
import { PENDING_PASS_LOCK } from "../src/store/gating.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/** Dry runs as scheduled, leased work: the database gate both ways, takeover and LOST (issue 15). */

const t = useTestDatabase();

/** A dry runner whose dry runs end when the test says so. */
function deferredRunner() {
  const pending: ((r: DryRunResult) => void)[] = [];
  const runner: DryRunner = { dryRun: () => new Promise<DryRunResult>((resolve) => pending.push(resolve)) };
  const passAll = () =>
    pending.splice(0).forEach((r) => r({ outcome: "PASSED", result: { rowsAffected: [1], durationMs: 1, message: "ok" } }));
  return {
    runner,
    passAll,
    get started() {
      return pending.length;
    },
  };
}

const scheduler = (replicaId: string, runner: DryRunner, clock = { now: () => new Date() }, extra: { leaseTtlMs?: number } = {}) =>
  new DryRunScheduler({
    db: t.db,
    clock,
    replicaId,
    runner,
    leaseTtlMs: extra.leaseTtlMs ?? 10_000,
    settings: { statementTimeoutMs: 1000 },
  });

const dryRuns = () =>
  t.db
    .selectFrom("dry_run" as never)
    .selectAll()
    .orderBy("id" as never)
    .execute() as Promise<{ task_id: string; status: string; outcome: string | null; owner_replica: string | null; attempts: number }[]>;

describe("the database gate", () => {
  it("a dry run waits while a sequential run is active on its database, and holds sequential runs back while it runs", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const pending = new PendingScheduler({ db: t.db, clock: { now: () => new Date() }, replicaId: "r1", fullPassIntervalMs: 3_600_000 });
    // A sequential run on database "a" is promoted (AVAILABLE: the database is busy).
    const first = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "ALTER TABLE x ADD COLUMN y int" })]);
    await pending.runOnce();
    const dry = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "UPDATE x SET y = 1" })], { run: false });
    await dryRunsQueue(t.db, { rolloutId: dry.rolloutId, taskIds: null, requestedBy: "test", now: new Date() });
    const d = deferredRunner();
    const s = scheduler("r1", d.runner);
    expect((await s.runOnce()).claimed).toBe(0);
    expect((await dryRuns())[0]!.status).toBe("QUEUED");

    // The run finishes; the dry run starts; a new sequential run on "a" must now wait for it.
    await t.db.updateTable("task_run").set({ status: "DONE" }).where("task_id", "=", first.taskIds[0]!).execute();
    expect((await s.runOnce()).claimed).toBe(1);
    const next = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "ALTER TABLE x ADD COLUMN z int" })]);
    await pending.runOnce({ full: true });
    const held = await t.db
      .selectFrom("task_run")
      .leftJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
      .select(["task_run.status", "task_run_wait.cause"])
      .where("task_run.task_id", "=", next.taskIds[0]!)
      .executeTakeFirstOrThrow();
    expect(held).toMatchObject({ status: "PENDING", cause: { type: "DATABASE_BUSY", taskId: dry.taskIds[0] } });

    // The dry run ends: the database is marked for the next live pass, which promotes the waiting run.
    d.passAll();
    await s.drain(5000);
    expect((await dryRuns())[0]).toMatchObject({ status: "DONE", outcome: "PASSED" });
    const r = await pending.runOnce();
    expect(r?.promoted).toBe(1);
  });

  it("one dry run at a time per database; other databases go on", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const r = await seedRollout(
      t.db,
      projectId,
      [task(instanceId, "a", { statement: "SELECT 1" }), task(instanceId, "a", { statement: "SELECT 2" }), task(instanceId, "b")],
      { run: false },
    );
    await dryRunsQueue(t.db, { rolloutId: r.rolloutId, taskIds: null, requestedBy: "test", now: new Date() });
    const d = deferredRunner();
    const s = scheduler("r1", d.runner);
    expect((await s.runOnce()).claimed).toBe(2);
    expect((await dryRuns()).map((x) => x.status)).toEqual(["RUNNING", "QUEUED", "RUNNING"]);
    d.passAll();
    await s.drain(5000);
  });
});

describe("leases", () => {
  it("a stopped replica's dry run is taken over by another, then reported LOST when replicas keep stopping", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const r = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "SELECT 1" })], { run: false });
    await dryRunsQueue(t.db, { rolloutId: r.rolloutId, taskIds: null, requestedBy: "test", now: new Date() });
    let now = new Date();
    const clock = { now: () => now };
    // Replica A claims it and stops (its dry run never ends, its lease is never renewed).
    const a = scheduler("A", deferredRunner().runner, clock, { leaseTtlMs: 1000 });
    expect((await a.runOnce()).claimed).toBe(1);
    const b = scheduler("B", deferredRunner().runner, clock, { leaseTtlMs: 1000 });
    // Lease expired, but the lost session may still run (statement timeout 1 s × (2 + 0 semicolons)).
    now = new Date(now.getTime() + 1500);
    expect(await b.runOnce()).toEqual({ claimed: 0, requeued: 0, lost: 0 });
    now = new Date(now.getTime() + 2000);
    expect(await b.runOnce()).toEqual({ claimed: 1, requeued: 1, lost: 0 });
    expect((await dryRuns())[0]).toMatchObject({ status: "RUNNING", owner_replica: "B", attempts: 2 });
    // B stops too: two attempts is the limit.
    now = new Date(now.getTime() + 5000);
    const c = scheduler("C", deferredRunner().runner, clock, { leaseTtlMs: 1000 });
    expect(await c.runOnce()).toEqual({ claimed: 0, requeued: 0, lost: 1 });
    expect((await dryRuns())[0]).toMatchObject({ status: "LOST", outcome: "LOST", owner_replica: null });
  });

  it("a live owner renews its lease on every pass, so nobody takes its dry run over", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const r = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "SELECT 1" })], { run: false });
    await dryRunsQueue(t.db, { rolloutId: r.rolloutId, taskIds: null, requestedBy: "test", now: new Date() });
    let now = new Date();
    const clock = { now: () => now };
    const d = deferredRunner();
    const a = scheduler("A", d.runner, clock, { leaseTtlMs: 1000 });
    await a.runOnce();
    for (let i = 0; i < 5; i++) {
      now = new Date(now.getTime() + 800);
      await a.runOnce();
    }
    now = new Date(now.getTime() + 800);
    expect((await scheduler("B", deferredRunner().runner, clock).runOnce()).requeued).toBe(0);
    d.passAll();
    await a.drain(5000);
    expect((await dryRuns())[0]).toMatchObject({ status: "DONE", outcome: "PASSED", attempts: 1 });
  });
});

describe("a replica frozen inside a dry-run claim", () => {
  it("keeps the pending-pass lock no longer than the idle bound (5 s), as a frozen pass does", async () => {
    // A plugin stands in for a SIGSTOP between two statements: once the claim holds the lock, its
    // next statement is never sent (the result of the lock statement is held back for 12 s).
    let frozen!: () => void;
    const freeze = new Promise<void>((r) => (frozen = r));
    const stuck = t.db.withPlugin({
      transformQuery: (a) => a.node,
      transformResult: async (a) => {
        if (JSON.stringify(a.result.rows).includes('"ok":true')) {
          frozen();
          await new Promise((r) => setTimeout(r, 12_000));
        }
        return a.result;
      },
    });
    const claim = dryRunsClaim(stuck, { replicaId: "frozen", limit: 1, leaseTtlMs: 10_000, now: new Date() }).catch((e: Error) => e);
    await freeze;
    const other = await t.pool.connect();
    try {
      const tryLock = async () => {
        await other.query("BEGIN");
        const { rows } = await other.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${PENDING_PASS_LOCK}) AS ok`);
        await other.query("ROLLBACK");
        return rows[0]!.ok;
      };
      expect(await tryLock()).toBe(false); // held by the frozen claim
      const t0 = Date.now();
      await waitFor(tryLock, { timeoutMs: 15_000, what: "the frozen claim's lock released" });
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      other.release();
    }
    // When it wakes, PostgreSQL has ended its session: the claim fails and claimed nothing.
    expect(await claim).toBeInstanceOf(Error);
  }, 40_000);
});
