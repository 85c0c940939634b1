import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { createTargetDatabase, createTestDatabase, serverUrl, waitFor, type TargetDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * Bug 8 of issue 10 (repro finish-write-lost): an outcome whose write fails is kept and written again,
 * so a change the target applied ends DONE and lets later versions go.
 */
let t: TestDatabase;
let target: TargetDatabase;
beforeEach(async () => {
  t = await createTestDatabase();
  target = await createTargetDatabase();
  await sql`SELECT setval('task_run_id_seq', 9000)`.execute(t.db);
});
afterEach(async () => {
  await t.close();
  await target.drop();
});

/** The first `n` outcome writes (the finish statement) fail before reaching the server. */
const failFinishes = (n: number): KyselyPlugin => {
  let failed = 0;
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      if (failed < n && JSON.stringify(args.node).includes("fin_in AS (")) {
        failed++;
        throw new Error("Connection terminated unexpectedly");
      }
      return args.node;
    },
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      return args.result;
    },
  };
};

describe("an outcome whose write fails", () => {
  it("is written again: the applied non-re-runnable change ends DONE and the next version goes", async () => {
    const clock = { now: () => new Date() };
    await target.query("CREATE TABLE big (id int)");
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { statement: "CREATE INDEX CONCURRENTLY big_idx ON big (id)", schemaVersion: "1" }),
      task(instanceId, target.name, { statement: "CREATE TABLE v2 ()", schemaVersion: "2" }),
    ]);
    const pending = new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e12 });
    await pending.runOnce();
    const exec = new PostgresExecutor({ statementTimeoutMs: 30_000 });
    const errors: string[] = [];
    const finished: string[] = [];
    const a = new RunningScheduler({
      db: t.db.withPlugin(failFinishes(3)),
      clock,
      replicaId: "A",
      concurrency: 1,
      leaseTtlMs: 15_000,
      executorFor: () => exec,
      onError: (e) => errors.push(String(e)),
      onFinish: (_r, o, w) => finished.push(`${o.status}:${w}`),
    });
    try {
      expect(await a.runOnce()).toBe(1);
      await waitFor(async () => a.activeCount === 0, { what: "execution and its outcome write ended", timeoutMs: 30_000 });
      expect(errors).toHaveLength(3);
      expect(finished).toEqual(["DONE:true"]);
      await pending.runOnce();
      const runs = await t.db.selectFrom("task_run").select(["status"]).orderBy("id").execute();
      expect(runs.map((r) => r.status)).toEqual(["DONE", "AVAILABLE"]);
      expect(await target.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_idx'::regclass")).toEqual([{ indisvalid: true }]);
    } finally {
      await exec.close();
    }
  });

  it("stops being retried once the heartbeat finds the run lost (the sweeper decides then)", async () => {
    const clock = { now: () => new Date() };
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
    await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { type: "DATABASE_DATA_UPDATE", statement: "CREATE TABLE lost ()" }),
    ]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
    const exec = new PostgresExecutor({ statementTimeoutMs: 30_000 });
    const finished: string[] = [];
    const a = new RunningScheduler({
      db: t.db.withPlugin(failFinishes(1_000)),
      clock,
      replicaId: "A",
      concurrency: 1,
      leaseTtlMs: 15_000,
      executorFor: () => exec,
      onFinish: (_r, o, w) => finished.push(`${o.status}:${w}`),
    });
    try {
      expect(await a.runOnce()).toBe(1);
      await waitFor(async () => (await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'lost'")).length === 1, { what: "applied" });
      expect(a.activeCount).toBe(1); // its outcome is kept, and its lease renewed meanwhile
      await a.renewOnce();
      // Another replica's sweeper took it (as if the lease had run out).
      await sql`UPDATE task_run SET owner_replica = 'B', lease_epoch = lease_epoch + 1`.execute(t.db);
      await a.renewOnce();
      await waitFor(async () => a.activeCount === 0, { what: "retries given up", timeoutMs: 30_000 });
      expect(finished).toEqual(["DONE:false"]);
    } finally {
      await exec.close();
    }
  });
});
