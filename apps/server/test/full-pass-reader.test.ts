import { describe, expect, it } from "vitest";
import { sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs } from "kysely";
import { TaskType } from "@runway/shared";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { projectPoliciesPut } from "../src/store/gates.js";
import { rolloutCreate } from "../src/store/rollouts.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { tasksRun } from "../src/store/task-actions.js";
import { gatingLoadAllPending, gatingOpenPending, gatingWithReaders } from "../src/store/gating-full.js";
import { createPassDb, type Db } from "../src/store/db.js";
import { useTestDatabase } from "./helpers/db.js";
import { autoRunProd, seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { afterStatement } from "./helpers/statement-hook.js";

/**
 * Issue 19: a full pass reads its runs on a second session that imported the pass's snapshot, so the reads
 * run while the pass's session writes (gatingWithReaders), several of them each over a part of the databases.
 */
const t = useTestDatabase();

const stall = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));
const statusOf = async (db: Db, taskIds: string[]) =>
  (await db.selectFrom("task_run").select(["task_id", "status"]).where("task_id", "in", taskIds).orderBy("task_id").execute()).map(
    (r) => r.status,
  );

describe("a full pass's reader session", () => {
  it("comes from the shared pool when the pass runs on a session of its own (a replica's pool of one)", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [
      task(instanceId, "a", { schemaVersion: "0001" }),
      task(instanceId, "a", { schemaVersion: "0002" }),
      task(instanceId, "b", { schemaVersion: "0001" }),
    ]);
    const passDb = createPassDb(t.url, "test pass");
    try {
      const replica = (readersDb: Db) =>
        new PendingScheduler({
          db: passDb,
          readersDb,
          clock: { now: () => new Date() },
          replicaId: "p",
          fullPassIntervalMs: 3_600_000,
          fullPassReaders: 2,
        });
      // Taken from the pass's own pool, a reader would wait for the one session the pass holds.
      expect(await replica(t.db).runOnce({ full: true })).toMatchObject({ kind: "full", candidates: 3, promoted: 2 });
    } finally {
      await passDb.destroy();
    }
  });

  it("several readers, each sorting its part of the databases, hand out the runs in the order of one cursor", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const databases = Array.from({ length: 24 }, (_, i) => `db${i}`);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      databases.flatMap((d, i) => [
        task(instanceId, d, { schemaVersion: `000${i % 3}` }),
        task(instanceId, d, { schemaVersion: `001${i % 5}` }),
        task(instanceId, d, { type: TaskType.DATABASE_DATA_UPDATE }),
      ]),
      { run: false },
    );
    // Runs created in one statement share their created_at (ties go by id), and a few in separate ones.
    await tasksRun(t.db, { rolloutId, taskIds: taskIds.slice(0, 40), runAt: null, actor: "t", now: new Date() });
    for (const id of taskIds.slice(40, 50)) await tasksRun(t.db, { rolloutId, taskIds: [id], runAt: null, actor: "t", now: new Date() });
    await tasksRun(t.db, { rolloutId, taskIds: taskIds.slice(50), runAt: null, actor: "t", now: new Date() });
    // Retries that hold later versions back come first in decide()'s order, wherever their database is.
    await t.db.updateTable("task_run").set({ ahead: true }).where("task_id", "in", [taskIds[3]!, taskIds[31]!, taskIds[60]!]).execute();
    const order = await t.db.transaction().execute(async (trx) => (await gatingLoadAllPending(trx)).map((c) => c.runId));
    // The data updates (no limit, nothing can hold them) were created AVAILABLE: the 48 schema changes wait.
    expect(order).toHaveLength(48);
    for (const readers of [1, 2, 3]) {
      const merged = await t.db.transaction().execute((trx) =>
        gatingWithReaders(t.db, trx, 5_000, readers, async (via) => {
          const batches = await gatingOpenPending(trx, 5, via);
          const ids: string[] = [];
          for (let b = await batches.next(); b.length > 0; b = await batches.next()) ids.push(...b.map((c) => c.runId));
          return ids;
        }),
      );
      expect(merged, `${readers} readers`).toEqual(order);
    }
  });

  it("reads what the pass's snapshot holds: a run created after it is left to the next pass", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      [task(instanceId, "a"), task(instanceId, "b"), task(instanceId, "c")],
      {
        run: false,
      },
    );
    await tasksRun(t.db, { rolloutId, taskIds: taskIds.slice(0, 2), runAt: null, actor: "t", now: new Date() });
    // Committed between the export of the pass's snapshot and the reader's import: a reader with a snapshot
    // of its own (or a cursor declared now on the pass's session) would see it.
    const late = () =>
      tasksRun(t.db, { rolloutId, taskIds: [taskIds[2]!], runAt: null, actor: "t", now: new Date() }).then(() => undefined);
    const s = new PendingScheduler({
      db: t.db.withPlugin(afterStatement(/pg_export_snapshot/, late)),
      clock: { now: () => new Date() },
      replicaId: "p",
      fullPassIntervalMs: 1e12,
    });
    const r = await s.runOnce({ full: true });
    expect(r).toMatchObject({ kind: "full", candidates: 2, promoted: 2 });
    expect(await statusOf(t.db, taskIds)).toEqual(["AVAILABLE", "AVAILABLE", "PENDING"]);
    // Its creation marked it for the next pass, which is a live one.
    expect(await s.runOnce()).toMatchObject({ kind: "live", promoted: 1 });
    expect(await statusOf(t.db, taskIds)).toEqual(["AVAILABLE", "AVAILABLE", "AVAILABLE"]);
  });

  it("a reader whose part of the databases holds only the newest runs outlasts the idle bound while the others' are decided", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    // The databases' parts, by the readers' own split (gating-full.ts): the old runs on part 0, the newest on part 1.
    const { rows } = await sql<{ name: string; part: number }>`
      SELECT n AS name, ((hashtext(${instanceId}) # hashtext(n)) & 2147483647) % 2 AS part
      FROM (SELECT 'db' || g AS n FROM generate_series(0, 63) g) x`.execute(t.db);
    const old = rows.filter((r) => r.part === 0).slice(0, 6);
    const newest = rows.find((r) => r.part === 1)!;
    expect(old).toHaveLength(6);
    const { taskIds } = await seedRollout(t.db, projectId, [
      ...old.flatMap((d) => [task(instanceId, d.name), task(instanceId, d.name)]),
      task(instanceId, newest.name),
    ]);
    expect(taskIds).toHaveLength(13);
    // Each FETCH takes 150 ms to arrive, half the bound: the part-1 reader's one run arrives at once, and it then
    // waits ~1 s (the part-0 reader's seven FETCHes of two) for the merge to reach it.
    const slowReads: KyselyPlugin = {
      transformQuery: (args: PluginTransformQueryArgs) => args.node,
      async transformResult(args: PluginTransformResultArgs) {
        if (JSON.stringify(args.result.rows).includes("waiting_cause")) await stall(150)();
        return args.result;
      },
    };
    const s = new PendingScheduler({
      db: t.db.withPlugin(slowReads),
      clock: { now: () => new Date() },
      replicaId: "p",
      fullPassIntervalMs: 1e12,
      lockIdleTimeoutMs: 300,
      fullPassBatchSize: 2,
      fullPassReaders: 2,
    });
    expect(await s.runOnce({ full: true })).toMatchObject({ kind: "full", candidates: 13, promoted: 7, causesWritten: 6 });
  });

  it("the pass's session may wait longer than the lock's idle bound for the first batch, and no longer after it", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { taskIds } = await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    const pass = (plugin: KyselyPlugin) =>
      new PendingScheduler({
        db: t.db.withPlugin(plugin),
        clock: { now: () => new Date() },
        replicaId: "p",
        fullPassIntervalMs: 1e12,
        lockIdleTimeoutMs: 300,
      }).runOnce({ full: true });
    // From the snapshot's export until the first batch arrives (the sort of the whole backlog, on the reader),
    // the pass's session is idle in its transaction: 1.5 s here, five times the bound, and it survives.
    expect(await pass(afterStatement(/pg_export_snapshot/, stall(1_500)))).toMatchObject({ kind: "full", candidates: 2 });
    // Once the first batch is there, the bound is back: a replica that stalls (here after its last write, the
    // reader's transaction over) is ended by it, and its pass with it.
    await t.db.updateTable("task_run").set({ status: "PENDING" }).where("task_id", "in", taskIds).execute();
    await expect(pass(afterStatement(/full_pass_requested = CASE/, stall(1_500)))).rejects.toThrow();
    expect(await statusOf(t.db, taskIds)).toEqual(["PENDING", "PENDING"]);
  });

  it("keeps the pass's session from sitting idle through a pass with nothing to write while the reader reads on", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    // One sequential run goes, nine wait DATABASE_BUSY: a second full pass finds every cause recorded and writes nothing.
    await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 10 }, () => task(instanceId, "d")),
    );
    const scheduler = (plugin?: KyselyPlugin) =>
      new PendingScheduler({
        db: plugin ? t.db.withPlugin(plugin) : t.db,
        clock: { now: () => new Date() },
        replicaId: "p",
        fullPassIntervalMs: 1e12,
        lockIdleTimeoutMs: 300,
        fullPassBatchSize: 2,
      });
    expect(await scheduler().runOnce({ full: true })).toMatchObject({ candidates: 10, promoted: 1, causesWritten: 9 });
    // Every batch takes 150 ms to arrive (a slow reader): half the bound each, 0.75 s over the pass.
    let fetches = 0;
    const slowReads: KyselyPlugin = {
      transformQuery: (args: PluginTransformQueryArgs) => args.node,
      async transformResult(args: PluginTransformResultArgs) {
        if (JSON.stringify(args.result.rows).includes("waiting_cause")) {
          fetches++;
          await stall(150)();
        }
        return args.result;
      },
    };
    expect(await scheduler(slowReads).runOnce({ full: true })).toMatchObject({ candidates: 9, promoted: 0, causesWritten: 0 });
    expect(fetches).toBeGreaterThanOrEqual(5);
  });

  it("is not used when the pass's release controls wrote runs: auto-run's runs are decided in the same full pass", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const now = () => new Date();
    await projectPoliciesPut(t.db, projectId, autoRunProd, "admin", now());
    const data = (database: string) => task(instanceId, database, { type: TaskType.DATABASE_DATA_UPDATE });
    const rolloutId = await rolloutCreate(
      t.db,
      {
        projectId,
        title: "r",
        createdBy: "alice",
        stages: [
          { environment: "staging", tasks: [data("s1")] },
          { environment: "prod", tasks: [task(instanceId, "p1"), task(instanceId, "p2")] },
        ],
      },
      now(),
    );
    const ids = (await t.db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).orderBy("id").execute()).map((x) => x.id);
    await tasksRun(t.db, { rolloutId, taskIds: [ids[0]!], runAt: null, actor: "alice", now: now() });
    const s = new PendingScheduler({ db: t.db, clock: { now }, replicaId: "p", fullPassIntervalMs: 1e12 });
    await s.runOnce({ full: true });
    const [c] = await taskRunsClaim(t.db, { replicaId: "w", limit: 10, leaseTtlMs: 60_000, now: now() });
    await taskRunFinish(t.db, { runId: c!.id, replicaId: "w", epoch: c!.epoch, status: "DONE", result: {}, message: "", now: now() });
    // One full pass: auto-run creates the prod runs in its transaction, and the same pass promotes them.
    expect(await s.runOnce({ full: true })).toMatchObject({ kind: "full", candidates: 2, promoted: 2 });
    expect(await statusOf(t.db, ids.slice(1))).toEqual(["AVAILABLE", "AVAILABLE"]);
  });
});
