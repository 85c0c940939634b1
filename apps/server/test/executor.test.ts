import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { useReconciler } from "./helpers/reconciler.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { Sweeper } from "../src/scheduler/sweeper.js";
import { taskRunsClaim } from "../src/store/runs.js";
import { taskRunsCancel } from "../src/store/task-actions.js";
import { createTargetDatabase, createTestDatabase, serverUrl, waitFor, type TargetDatabase, type TestDatabase } from "./helpers/db.js";
import { startRuntime } from "./helpers/runtime.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { runSessions } from "./helpers/target-sessions.js";

const reconciler = useReconciler();

let t: TestDatabase;
let target: TargetDatabase;
const clock = { now: () => new Date() };

beforeEach(async () => {
  t = await createTestDatabase();
  target = await createTargetDatabase();
});
afterEach(async () => {
  await t.close();
  await target.drop();
});

function runtime(replicaId: string) {
  return startRuntime({
    db: t.db,
    url: t.url,
    config: {
      replicaId,
      concurrency: 4,
      pollIntervalMs: 200,
      leaseTtlMs: 10_000,
      heartbeatIntervalMs: 500,
      sweepIntervalMs: 500,
      fullPassIntervalMs: 60_000,
    },
    executorFor: () => new PostgresExecutor({ statementTimeoutMs: 60_000 }),
  });
}

const runStatus = async (taskId: string) =>
  await t.db
    .selectFrom("task_run")
    .select(["id", "status", "result"])
    .where("task_id", "=", taskId)
    .orderBy("attempt", "desc")
    .executeTakeFirst();

describe("PostgreSQL executor through the schedulers", () => {
  it("applies a statement with its ledger row; errors carry the PostgreSQL message, code and position", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    const { taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, target.name, {
        statement: "CREATE TABLE applied_ok (id int); INSERT INTO applied_ok VALUES (1), (2)",
        schemaVersion: "0001",
      }),
      task(instanceId, target.name, { statement: "SELECT * FROM no_such_table", type: "DATABASE_DATA_UPDATE" }),
    ]);
    const rt = await runtime("r1");
    try {
      const ok = await waitFor(
        async () => {
          const r = await runStatus(taskIds[0]!);
          return r?.status !== "PENDING" && r?.status !== "AVAILABLE" && r?.status !== "RUNNING" && r;
        },
        { what: "finished" },
      );
      expect(ok.status, JSON.stringify(ok.result)).toBe("DONE");
      expect(ok.result).toMatchObject({ rowsAffected: 2 });
      const failed = await waitFor(
        async () => {
          const r = await runStatus(taskIds[1]!);
          return r?.status === "FAILED" && r;
        },
        { what: "FAILED" },
      );
      expect(failed.result).toMatchObject({ error: { code: "42P01", position: 15 } });
      expect((failed.result as { error: { message: string } }).error.message).toContain("no_such_table");
      const ledger = await target.query<{ task_id: string; schema_version: string }>(
        "SELECT task_id::text, schema_version FROM runway_ledger",
      );
      expect(ledger).toEqual([{ task_id: taskIds[0], schema_version: "0001" }]);
    } finally {
      await rt.stop(1000);
    }
  });

  it("cancels PENDING and AVAILABLE runs at once", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    const { rolloutId } = await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const runs = await t.db.selectFrom("task_run").select(["id", "status"]).orderBy("id").execute();
    expect(runs.map((r) => r.status)).toEqual(["AVAILABLE", "PENDING"]);
    const res = await taskRunsCancel(t.db, {
      rolloutId,
      taskRunIds: runs.map((r) => r.id),
      actor: "alice",
      now: new Date(),
      replicaId: null,
    });
    expect(res.map((r) => r.outcome)).toEqual(["CANCELED", "CANCELED"]);
    const after = await t.db
      .selectFrom("task_run")
      .innerJoin("task", "task.id", "task_run.task_id")
      .select(["task_run.status", "task_run.canceled_by", "task.status as task_status"])
      .execute();
    expect(after.every((r) => r.status === "CANCELED" && r.task_status === "CANCELED" && r.canceled_by === "alice")).toBe(true);
  });

  it("cancels a RUNNING run: the statement is aborted on the target and its change is absent", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    const { rolloutId, taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { statement: "CREATE TABLE must_not_exist (id int); SELECT pg_sleep(60)" }),
    ]);
    const owner = await runtime("owner");
    try {
      const run = await waitFor(
        async () => {
          const r = await runStatus(taskIds[0]!);
          return r?.status === "RUNNING" && r;
        },
        { what: "RUNNING" },
      );
      await waitFor(async () => (await runSessions(target, run.id, "query LIKE '%pg_sleep%'")).length > 0, { what: "statement on target" });
      // Requested through the store like any other replica would (this process is not the owner's API).
      const res = await taskRunsCancel(t.db, { rolloutId, taskRunIds: [run.id], actor: "bob", now: new Date(), replicaId: "api" });
      expect(res).toEqual([{ taskRunId: run.id, outcome: "CANCEL_REQUESTED" }]);
      const canceled = await waitFor(
        async () => {
          const r = await runStatus(taskIds[0]!);
          return r?.status === "CANCELED" && r;
        },
        { what: "CANCELED" },
      );
      expect(JSON.stringify(canceled.result)).toContain("canceling statement due to user request");
      expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'must_not_exist'")).toEqual([]);
      expect(await target.query(`SELECT 1 FROM runway_ledger WHERE task_id = ${taskIds[0]}`)).toEqual([]);
    } finally {
      await owner.stop(1000);
    }
  });

  it("the ledger makes re-running after failover a no-op", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    const { taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { statement: "CREATE TABLE IF NOT EXISTS once (n int); INSERT INTO once VALUES (1)" }),
    ]);
    let now = new Date();
    const clk = { now: () => now };
    await new PendingScheduler({ db: t.db, clock: clk, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const [claimed] = await taskRunsClaim(t.db, { replicaId: "A", limit: 1, leaseTtlMs: 1000, now });
    // Replica A applies the statement on the target, then dies before recording DONE.
    const first = await new PostgresExecutor({ statementTimeoutMs: 10_000 }).execute(claimed!, {
      signal: new AbortController().signal,
      replicaId: "A",
      log: async () => undefined,
      stillOwner: async () => true,
    });
    expect(first.status).toBe("DONE");
    now = new Date(now.getTime() + 5000);
    // The sweeper ends the run's target sessions and reads the target's ledger: applied, so DONE.
    expect(await new Sweeper({ db: t.db, clock: clk, replicaId: "S", reconciler }).runOnce()).toMatchObject({
      applied: 1,
      requeued: 0,
      failed: 0,
    });
    // Another replica running meanwhile does not run it again.
    const b = await runtime("B");
    try {
      const done = await waitFor(
        async () => {
          const r = await runStatus(taskIds[0]!);
          return r?.status === "DONE" && r;
        },
        { what: "DONE" },
      );
      expect(done.result).toMatchObject({ alreadyApplied: true });
      expect(await target.query("SELECT n FROM once")).toEqual([{ n: 1 }]);
    } finally {
      await b.stop(1000);
    }
  });
});
