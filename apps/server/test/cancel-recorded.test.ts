import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { taskRunsCancel } from "../src/store/task-actions.js";
import { createTargetDatabase, createTestDatabase, serverUrl, waitFor, type TargetDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * A cancel recorded in the database counts even when its NOTIFY never arrives (bug 11 of issue 10,
 * repro cancel-flag-ignored): the owner's lease check right before COMMIT refuses to commit, and a run
 * given back with a cancel recorded ends CANCELED instead of going back to the queue.
 */
let t: TestDatabase;
let target: TargetDatabase;
beforeEach(async () => {
  t = await createTestDatabase();
  target = await createTargetDatabase();
  // Distinct run ids across test databases (the target fence matches sessions by run id).
  await sql`SELECT setval('task_run_id_seq', 5000)`.execute(t.db);
});
afterEach(async () => {
  await t.close();
  await target.drop();
});

describe("a recorded cancel without its NOTIFY", () => {
  it("stops the commit, and a run given back after it ends CANCELED; neither change reaches the target", async () => {
    const clock = { now: () => new Date() };
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    const { rolloutId, taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { type: "DATABASE_DATA_UPDATE", statement: "SELECT pg_sleep(1.5); CREATE TABLE c1 ()" }),
      task(instanceId, target.name, { type: "DATABASE_DATA_UPDATE", statement: "SELECT pg_sleep(30); CREATE TABLE c2 ()" }),
    ]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
    const exec = new PostgresExecutor({ statementTimeoutMs: 60_000 });
    const done: string[] = [];
    // No listener and no heartbeat loop: the cancel's NOTIFY is never delivered.
    const rs = new RunningScheduler({
      db: t.db,
      clock,
      replicaId: "A",
      concurrency: 1,
      leaseTtlMs: 15_000,
      executorFor: () => exec,
      onFinish: (r, o, w) => done.push(`${r.id}:${o.status}:${w}`),
    });
    const runOf = (taskId: string) =>
      t.db
        .selectFrom("task_run")
        .select(["id", "status", "cancel_requested_at"])
        .where("task_id", "=", taskId)
        .orderBy("attempt", "desc")
        .executeTakeFirstOrThrow();
    const activeSession = (id: string) => async () =>
      (
        await target.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'runway run ${id} %' AND state = 'active'`,
        )
      )[0];
    try {
      // 1. The cancel lands while the statement runs: the check before COMMIT sees it and rolls back.
      expect(await rs.runOnce()).toBe(1);
      const r1 = await runOf(taskIds[0]!);
      await waitFor(activeSession(r1.id), { what: "c1 executing" });
      await taskRunsCancel(t.db, { rolloutId, taskRunIds: [r1.id], actor: "bob", now: new Date(), replicaId: "api" });
      await waitFor(async () => done.length === 1, { what: "c1 ended", timeoutMs: 30_000 });
      expect(await runOf(taskIds[0]!)).toMatchObject({ status: "CANCELED" });

      // 2. The cancel lands, then the target session is lost before COMMIT (RETRY): the run is given
      // back, and with its cancel recorded it ends CANCELED, not AVAILABLE.
      await waitFor(async () => (await runOf(taskIds[1]!)).status === "RUNNING" || (await rs.runOnce()) === 1, { what: "c2 claimed" });
      const r2 = await runOf(taskIds[1]!);
      const s2 = await waitFor(activeSession(r2.id), { what: "c2 executing" });
      await taskRunsCancel(t.db, { rolloutId, taskRunIds: [r2.id], actor: "bob", now: new Date(), replicaId: "api" });
      await target.query(`SELECT pg_terminate_backend(${s2.pid})`);
      await waitFor(async () => done.length === 2, { what: "c2 ended", timeoutMs: 30_000 });
      expect(await runOf(taskIds[1]!)).toMatchObject({ id: r2.id, status: "CANCELED" });
      expect(await rs.runOnce()).toBe(0);

      expect(await target.query("SELECT tablename FROM pg_tables WHERE tablename IN ('c1', 'c2')")).toEqual([]);
      const tasks = await t.db.selectFrom("task").select("status").where("id", "in", taskIds).execute();
      expect(tasks.map((x) => x.status)).toEqual(["CANCELED", "CANCELED"]);
    } finally {
      await exec.close();
    }
  });
});
