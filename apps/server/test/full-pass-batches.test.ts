import { describe, expect, it } from "vitest";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";
import { TaskType } from "@runway/shared";
import { decide } from "../src/domain/gating.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { gatingLoadAllPending, gatingLoadOccupancy } from "../src/store/gating.js";
import { rolloutCreate } from "../src/store/rollouts.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { tasksRun } from "../src/store/task-actions.js";
import { sql } from "kysely";
import type { Db } from "../src/store/db.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * Issue 19: the full pass reads the PENDING runs in batches and carries decide()'s state (databases taken,
 * slots used per rollout) from batch to batch. Over more runs than one batch it must decide exactly what one
 * decide() over all of them does.
 */
const t = useTestDatabase();

const BATCH = 50;

/** What one unbatched decide() over every PENDING run says now, without writing anything. */
async function oracle(db: Db, now: Date) {
  return db.transaction().execute(async (trx) => {
    const candidates = await gatingLoadAllPending(trx);
    const { busy, active } = await gatingLoadOccupancy(trx, null, [...new Set(candidates.map((c) => c.rolloutId))]);
    return { candidates, decision: decide(candidates, { now, busy, active }) };
  });
}

/** Counts the full pass's batch reads. */
function countFetches(counter: { n: number }): KyselyPlugin {
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      if (JSON.stringify(args.node).includes("FETCH FORWARD")) counter.n++;
      return args.node;
    },
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => args.result,
  };
}

const available = (db: Db) => db.selectFrom("task_run").select("id").where("status", "=", "AVAILABLE").execute();
const recorded = async (db: Db) =>
  new Map(
    (
      await db
        .selectFrom("task_run")
        .innerJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
        .select(["task_run.id", "cause"])
        .execute()
    ).map((r) => [r.id, r.cause]),
  );

describe("a full pass in batches", () => {
  it("decides exactly what one decide() over all PENDING runs does, and leaves every cause exact", async () => {
    let clock = new Date("2030-01-01T00:00:00Z");
    const { instanceId: i1 } = await seedProject(t.db, { id: "p1", limit: 3 });
    const { instanceId: i2 } = await seedProject(t.db, { id: "p2", limit: 0 });
    const types = [TaskType.DATABASE_SCHEMA_UPDATE, TaskType.DATABASE_DATA_UPDATE, TaskType.DATABASE_SDL];
    let version = 0;
    // Four rollouts over five databases, 45 tasks each: versioned, sequential and data changes mixed.
    const rollouts: { id: string; tasks: string[] }[] = [];
    for (let r = 0; r < 4; r++) {
      const instanceId = r % 2 === 0 ? i1 : i2;
      const tasks = Array.from({ length: 45 }, (_, k) =>
        task(instanceId, `db${k % 5}`, {
          type: types[k % 3]!,
          schemaVersion: k % 3 === 0 ? String((version += 1)).padStart(4, "0") : null,
        }),
      );
      const id = await rolloutCreate(
        t.db,
        { projectId: r % 2 === 0 ? "p1" : "p2", title: `r${r}`, createdBy: "t", stages: [{ environment: "test", tasks }] },
        clock,
      );
      const ids = (await t.db.selectFrom("task").select("id").where("rollout_id", "=", id).orderBy("id").execute()).map((x) => x.id);
      rollouts.push({ id, tasks: ids });
    }
    // Runs of different rollouts interleave in created_at, many share one (ties go by id), a few wait for run-at.
    for (let chunk = 0; chunk < 45; chunk += 5) {
      for (const r of rollouts) {
        clock = new Date(clock.getTime() + 1);
        const runAt = chunk === 40 ? new Date(clock.getTime() + 60_000) : null;
        await tasksRun(t.db, { rolloutId: r.id, taskIds: r.tasks.slice(chunk, chunk + 5), runAt, actor: "t", now: clock });
      }
    }

    const fetches = { n: 0 };
    const scheduler = new PendingScheduler({
      db: t.db.withPlugin(countFetches(fetches)),
      clock: { now: () => clock },
      replicaId: "p",
      fullPassIntervalMs: 1e12,
      fullPassBatchSize: BATCH,
    });
    for (let round = 0; round < 3; round++) {
      const expected = await oracle(t.db, clock);
      expect(expected.candidates.length).toBeGreaterThan(2 * BATCH);
      expect(expected.decision.promote.length).toBeGreaterThan(0);
      const before = await recorded(t.db);
      // Runs no gate can hold skip the queue (AVAILABLE when created): not the pass's.
      const availableBefore = new Set((await available(t.db)).map((x) => x.id));
      fetches.n = 0;
      const r = await scheduler.runOnce({ full: true });
      expect(r?.kind).toBe("full");
      expect(fetches.n).toBeGreaterThanOrEqual(Math.ceil(expected.candidates.length / BATCH));
      expect(r!.candidates).toBe(expected.candidates.length);

      const promoted = (await available(t.db)).map((x) => x.id).filter((id) => !availableBefore.has(id));
      expect(promoted.sort()).toEqual(expected.decision.promote.map((c) => c.runId).sort());
      expect(r!.promoted).toBe(promoted.length);
      const after = await recorded(t.db);
      const changed = [...after].filter(([id, cause]) => JSON.stringify(before.get(id)) !== JSON.stringify(cause));
      expect(new Map(changed)).toEqual(new Map(expected.decision.causes.map((c) => [c.runId, c.cause])));
      // Nothing left to promote. (Causes may differ from a second evaluation: a run decided before a later
      // run took its database says what held it then, in one decide() as in batches.)
      expect((await oracle(t.db, clock)).decision.promote).toEqual([]);

      // Next round: what was promoted runs and finishes, so later batches' runs can go; causes exist now (upsert path).
      clock = new Date(clock.getTime() + 1000);
      const claimed = await taskRunsClaim(t.db, { replicaId: "w", limit: 1000, leaseTtlMs: 1e9, now: clock });
      for (const c of claimed) {
        await taskRunFinish(t.db, { runId: c.id, replicaId: "w", epoch: c.epoch, status: "DONE", result: {}, message: "", now: clock });
      }
    }
  });

  it("fails as a whole with the error of a cause write that failed while the next batch was read", async () => {
    const { instanceId } = await seedProject(t.db, { id: "p1", limit: 3 });
    // Sequential changes on five databases: three go (the rollout's limit), the others wait with a cause each,
    // in every batch.
    await seedRollout(
      t.db,
      "p1",
      Array.from({ length: 4 * BATCH }, (_, k) => task(instanceId, `db${k % 5}`)),
    );
    // A run of the first batch that waits (the first three go): the write of that batch's causes fails while
    // the pass reads on, and the next statement meets an aborted transaction.
    const waiting = (await t.db.selectFrom("task_run").select("id").orderBy("id").offset(10).limit(1).executeTakeFirstOrThrow()).id;
    await sql`CREATE FUNCTION fail_cause() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected cause-write failure'; END $$`.execute(t.db);
    await sql`CREATE TRIGGER fail_cause BEFORE INSERT ON task_run_wait FOR EACH ROW
      WHEN (NEW.run_id = ${sql.lit(Number(waiting))}) EXECUTE FUNCTION fail_cause()`.execute(t.db);
    const fetches = { n: 0 };
    const scheduler = new PendingScheduler({
      db: t.db.withPlugin(countFetches(fetches)),
      clock: { now: () => new Date() },
      replicaId: "p",
      fullPassIntervalMs: 1e12,
      fullPassBatchSize: BATCH,
      // One reader, so that the FETCHes below count batches (with several, each reader's cursor has its own).
      fullPassReaders: 1,
    });
    // The write's own error, not the aborted transaction's ("current transaction is aborted") a later statement met.
    await expect(scheduler.runOnce({ full: true })).rejects.toThrow(/injected cause-write failure/);
    // The second batch was read before the write, and the third was asked for after it (and failed).
    expect(fetches.n).toBe(3);
    // Nothing of the pass was kept but the first batch's promotions, committed at its checkpoint before its
    // causes (gatingPassCheckpoint), and the request for a full pass that checkpoint left.
    expect((await available(t.db)).map((x) => x.id)).toEqual(["1", "2", "3"]);
    expect(await recorded(t.db)).toEqual(new Map());
    expect((await t.db.selectFrom("gating_state").select("full_pass_requested").executeTakeFirstOrThrow()).full_pass_requested).toBe(true);

    await sql`DROP TRIGGER fail_cause ON task_run_wait`.execute(t.db);
    const r = await scheduler.runOnce();
    expect(r).toMatchObject({ kind: "full", promoted: 0 });
    expect((await recorded(t.db)).size).toBe(4 * BATCH - 3);
  });
});
