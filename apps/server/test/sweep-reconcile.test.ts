import { sql } from "kysely";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { useReconciler } from "./helpers/reconciler.js";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { Sweeper } from "../src/scheduler/sweeper.js";
import { taskRunsClaim } from "../src/store/runs.js";
import { taskRunsCancel } from "../src/store/task-actions.js";
import { taskRunGet } from "../src/store/task-reads.js";
import { createTargetDatabase, createTestDatabase, serverUrl, waitFor, type TargetDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { sessionAs } from "./helpers/runs.js";
import { runSessionName } from "../src/executors/session-name.js";

/**
 * Bugs 2 and 7 of issue 10 (repros sweep-nonrerunnable-overlap, sweep-cancel-applied): a run leaves
 * RUNNING by the sweeper's hand only after its target sessions were ended and confirmed gone, and the
 * target's ledger decides how it ends.
 */
let t: TestDatabase;
let target: TargetDatabase;
beforeEach(async () => {
  t = await createTestDatabase();
  target = await createTargetDatabase();
  await sql`SELECT setval('task_run_id_seq', 6000)`.execute(t.db);
});
afterEach(async () => {
  await t.close();
  await target.drop();
});

const reconciler = useReconciler();
const runsOf = (db: TestDatabase["db"]) =>
  db
    .selectFrom("task_run")
    .leftJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
    .select(["task_run.id", "task_run.status", "task_run.result", "task_run.owner_lost_at", "task_run_wait.type as wait"])
    .orderBy("task_run.id")
    .execute();

describe("the sweeper settles a lost owner's run on its target", () => {
  it("applied on the target: DONE, even with a cancel recorded, and the next version may go", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    const { rolloutId } = await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { statement: "CREATE TABLE v1_applied (id int)", schemaVersion: "1" }),
      task(instanceId, target.name, { statement: "CREATE TABLE v2_applied (id int)", schemaVersion: "2" }),
    ]);
    let now = new Date();
    const clk = { now: () => now };
    const pending = new PendingScheduler({ db: t.db, clock: clk, replicaId: "p", fullPassIntervalMs: 1e12 });
    await pending.runOnce();
    const [run] = await taskRunsClaim(t.db, { replicaId: "A", limit: 1, leaseTtlMs: 15_000, now });
    // Replica A commits on the target, then dies before writing DONE; a cancel is recorded meanwhile.
    const executor = new PostgresExecutor({ statementTimeoutMs: 10_000 });
    const out = await executor.execute(run!, {
      signal: new AbortController().signal,
      replicaId: "A",
      log: async () => undefined,
      stillOwner: async () => true,
    });
    await executor.close();
    expect(out.status).toBe("DONE");
    expect((await taskRunsCancel(t.db, { rolloutId, taskRunIds: [run!.id], actor: "bob", now, replicaId: "api" }))[0]!.outcome).toBe(
      "CANCEL_REQUESTED",
    );
    now = new Date(now.getTime() + 20_000);
    expect(await new Sweeper({ db: t.db, clock: clk, replicaId: "S", reconciler }).runOnce()).toMatchObject({ applied: 1 });
    await pending.runOnce();
    const [v1, v2] = await runsOf(t.db);
    expect(v1).toMatchObject({ status: "DONE", result: { alreadyApplied: true, ownerLost: "A" } });
    expect(v2).toMatchObject({ status: "AVAILABLE" });
    const log = await t.db
      .selectFrom("task_run_log")
      .select("payload")
      .where("task_run_id", "=", run!.id)
      .where("type", "=", "STATUS")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(log.payload).toMatchObject({ by: "sweeper", owner: "A", from: "RUNNING", to: "DONE" });
  });

  it("a non-re-runnable statement still executing is ended on the target before the database is freed", async () => {
    const clock = { now: () => new Date() };
    await target.query("CREATE TABLE big (id int)");
    const blocker = new pg.Client({ connectionString: target.url });
    await blocker.connect();
    await blocker.query("BEGIN; INSERT INTO big VALUES (1)"); // holds the CREATE INDEX CONCURRENTLY back
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    const { taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { statement: "CREATE INDEX CONCURRENTLY big_idx ON big (id)" }),
      task(instanceId, target.name, { statement: "CREATE TABLE second_change ()" }),
    ]);
    const pending = new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e12 });
    await pending.runOnce();
    const execA = new PostgresExecutor({ statementTimeoutMs: 60_000 });
    const a = new RunningScheduler({ db: t.db, clock, replicaId: "A", concurrency: 1, leaseTtlMs: 500, executorFor: () => execA });
    try {
      expect(await a.runOnce()).toBe(1);
      const runA = (await runsOf(t.db))[0]!;
      const cicAlive = async () =>
        (await target.query(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'runway run ${runA.id} %'`)).length > 0;
      await waitFor(cicAlive, { what: "CIC executing on the target" });
      // A never renews (no heartbeat): its lease runs out while the CIC still waits.
      await waitFor(
        async () => (await t.db.selectFrom("task_run").select("id").where("lease_expires_at", "<", new Date()).execute()).length === 1,
        { what: "lease expired" },
      );
      const swept = await new Sweeper({ db: t.db, clock, replicaId: "S", reconciler }).runOnce();
      // Ended on the target first; then either the sweeper's write or A's own (A is slow, not gone: its
      // execution sees its session end and writes with its still valid fence) ends the run.
      expect(swept).toMatchObject({ applied: 0, unconfirmed: 0, requeued: 0 });
      expect(await cicAlive()).toBe(false);
      await waitFor(async () => (await runsOf(t.db))[0]!.status === "FAILED", { what: "first run FAILED" });
      expect(await target.query("SELECT 1 FROM runway_ledger WHERE task_id = " + taskIds[0])).toEqual([]);
      await pending.runOnce();
      expect((await runsOf(t.db))[1]).toMatchObject({ status: "AVAILABLE" });
      await waitFor(async () => a.activeCount === 0, { what: "A's execution ended" });
      expect((await runsOf(t.db))[0]).toMatchObject({ status: "FAILED" }); // A's own late outcome changed nothing
    } finally {
      await blocker.end().catch(() => undefined);
      await execA.close();
    }
  });

  it.each([
    [
      "FAILED",
      false,
      "owning replica stopped responding; the interrupted build left the index big_idx INVALID: drop it (DROP INDEX CONCURRENTLY big_idx) before running the task again",
    ],
    [
      "CANCELED",
      true,
      "canceled; not applied on the target; the interrupted build left the index big_idx INVALID: drop it (DROP INDEX CONCURRENTLY big_idx) before running the task again",
    ],
  ])(
    "a lost index build that left its index INVALID: %s (cancel requested: %s), and the error names the index to drop",
    async (status, cancel, error) => {
      await target.query("CREATE TABLE big (id int)");
      const blocker = new pg.Client({ connectionString: target.url });
      await blocker.connect();
      await blocker.query("BEGIN; INSERT INTO big VALUES (1)"); // holds the build back once its index exists
      try {
        const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
        const statement = "CREATE INDEX CONCURRENTLY big_idx ON big (id)";
        await seedRollout(t.db, projectId, [task(instanceId, target.name, { statement })]);
        let now = new Date();
        const clk = { now: () => now };
        await new PendingScheduler({ db: t.db, clock: clk, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
        const [run] = await taskRunsClaim(t.db, { replicaId: "A", limit: 1, leaseTtlMs: 1000, now });
        // The owner died mid-build: its session, named after the run, is still waiting with the index INVALID.
        const name = runSessionName({ installationId: run!.installationId, runId: run!.id, epoch: run!.epoch }, "A");
        const orphan = await sessionAs(target.url, name, statement);
        await waitFor(async () => (await target.query("SELECT 1 FROM pg_class WHERE relname = 'big_idx'")).length === 1, {
          what: "the index created INVALID",
        });
        if (cancel)
          await taskRunsCancel(t.db, { rolloutId: run!.rolloutId, taskRunIds: [run!.id], actor: "releaser", now, replicaId: "api" });
        now = new Date(now.getTime() + 5000);
        await new Sweeper({ db: t.db, clock: clk, replicaId: "S", reconciler }).runOnce();
        expect(await orphan.done).toMatch(/terminat/);
        const [r] = await runsOf(t.db);
        expect(r).toMatchObject({ status });
        expect((r!.result as { error: { message: string } }).error.message).toBe(error);
      } finally {
        await blocker.end().catch(() => undefined);
      }
    },
  );

  it("while the target cannot be reached the run stays RUNNING and keeps its gate, visibly; settled once it answers", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: "postgres://nobody@127.0.0.1:1/none" });
    await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { statement: "CREATE TABLE u1 ()" }),
      task(instanceId, target.name, { statement: "CREATE TABLE u2 ()" }),
    ]);
    let now = new Date();
    const clk = { now: () => now };
    const pending = new PendingScheduler({ db: t.db, clock: clk, replicaId: "p", fullPassIntervalMs: 1e12 });
    await pending.runOnce();
    const [run] = await taskRunsClaim(t.db, { replicaId: "A", limit: 1, leaseTtlMs: 1000, now });
    now = new Date(now.getTime() + 5000);
    const sweeper = new Sweeper({ db: t.db, clock: clk, replicaId: "S", reconciler, reconcileTimeoutMs: 2000 });
    expect(await sweeper.runOnce()).toMatchObject({ unconfirmed: 1, requeued: 0, failed: 0 });
    expect(await sweeper.runOnce()).toMatchObject({ unconfirmed: 1 });
    await pending.runOnce();
    const held = await runsOf(t.db);
    expect(held[0]).toMatchObject({ id: run!.id, status: "RUNNING" });
    expect(held[0]!.owner_lost_at).toEqual(now);
    expect(held[1]).toMatchObject({ status: "PENDING", wait: "DATABASE_BUSY" });
    const logs = await t.db
      .selectFrom("task_run_log")
      .select("payload")
      .where("task_run_id", "=", run!.id)
      .where("type", "=", "OWNER_LOST")
      .execute();
    expect(logs).toHaveLength(1); // logged once, not every sweep
    // The task-run API shows why it still holds its gate.
    expect(await taskRunGet(t.db, run!.id)).toMatchObject({
      status: "RUNNING",
      ownerLost: { since: now.toISOString(), error: expect.any(String) },
    });
    expect(String((logs[0]!.payload as unknown as { message: string }).message)).toMatch(
      /owner A lost since .*, waiting to confirm on the target/,
    );

    // The target answers again: nothing was applied, the run is re-runnable → requeued, the gate freed.
    await t.db.updateTable("instance").set({ connection_url: serverUrl() }).where("id", "=", instanceId).execute();
    expect(await sweeper.runOnce()).toMatchObject({ requeued: 1, unconfirmed: 0 });
    expect((await runsOf(t.db))[0]).toMatchObject({ status: "AVAILABLE", owner_lost_at: null });
  });
});
