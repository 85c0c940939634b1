import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { rolloutGet } from "../src/store/rollout-reads.js";
import { rolloutCreate } from "../src/store/rollouts.js";
import { tasksSkip } from "../src/store/task-actions.js";
import { TASK_STATUS_ORDER } from "@runway/shared";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, task } from "./helpers/fixtures.js";

/**
 * Stage progress (migrations 0058, 0065): task triggers append deltas, a pass folds them. Whatever happens to
 * tasks, the folded counts equal a count of the task table, and a full pass folds even with nothing
 * pending (the delta table stays bounded when every run skips the pending queue).
 */
const t = useTestDatabase();

type Counts = Record<string, { total: number; done: number }>;
const rowsToCounts = (rows: { stage_id: string; total: number; done: number }[]): Counts =>
  Object.fromEntries(rows.map((r) => [r.stage_id, { total: r.total, done: r.done }]));

const truth = async (): Promise<Counts> =>
  rowsToCounts(
    (
      await sql<{ stage_id: string; total: number; done: number }>`
        SELECT s.id::text AS stage_id, count(tk.id)::int AS total, count(tk.id) FILTER (WHERE tk.status IN ('DONE', 'SKIPPED'))::int AS done
        FROM stage s LEFT JOIN task tk ON tk.stage_id = s.id GROUP BY s.id`.execute(t.db)
    ).rows,
  );
const stored = async (): Promise<Counts> =>
  rowsToCounts(
    (await sql<{ stage_id: string; total: number; done: number }>`SELECT stage_id::text, total, done FROM stage_progress`.execute(t.db))
      .rows,
  );
const deltas = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM stage_progress_delta`.execute(t.db)).rows[0]!.n);

/** A rollout of a staging stage with three tasks and a prod stage with two; its task ids in order. */
async function twoStageRollout(projectId: string, instanceId: string): Promise<{ rolloutId: string; ids: string[] }> {
  const rolloutId = await rolloutCreate(
    t.db,
    {
      projectId,
      title: "r",
      createdBy: "test",
      stages: [
        { environment: "staging", tasks: [task(instanceId, "a"), task(instanceId, "b"), task(instanceId, "c")] },
        { environment: "prod", tasks: [task(instanceId, "a"), task(instanceId, "b")] },
      ],
    },
    new Date(),
  );
  const ids = (await t.db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).orderBy("id").execute()).map((r) => r.id);
  return { rolloutId, ids };
}

describe("stage progress", () => {
  it("folded counts equal the task table through creates, skips and status changes; a full pass with nothing pending folds", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, ids } = await twoStageRollout(projectId, instanceId);
    expect(await deltas()).toBeGreaterThan(0);

    const pending = new PendingScheduler({ db: t.db, clock: { now: () => new Date() }, replicaId: "p", fullPassIntervalMs: 1e12 });
    const fold = async () => {
      await pending.runOnce({ full: true });
      expect(await deltas()).toBe(0);
      expect(await stored()).toEqual(await truth());
    };
    await fold();

    await tasksSkip(t.db, { rolloutId, taskIds: [ids[0]!, ids[3]!], reason: "not needed", now: new Date() });
    await fold();
    // In and out of DONE, and a change that does not touch DONE/SKIPPED at all (no delta for it).
    await sql`UPDATE task SET status = 'DONE' WHERE id = ${ids[1]}`.execute(t.db);
    await sql`UPDATE task SET status = 'FAILED' WHERE id = ${ids[1]}`.execute(t.db);
    await sql`UPDATE task SET status = 'DONE' WHERE id = ${ids[2]}`.execute(t.db);
    const before = await deltas();
    await sql`UPDATE task SET status = 'CANCELED' WHERE id = ${ids[4]}`.execute(t.db);
    expect(await deltas()).toBe(before);
    await fold();
    expect(Object.values(await stored()).sort((a, b) => a.total - b.total)).toEqual([
      { total: 2, done: 1 },
      { total: 3, done: 2 },
    ]);

    // One statement that moves several tasks of a stage appends one delta for the stage (0065), not two per task.
    const [s0, s1] = (
      await t.db.selectFrom("task").select(["id", "stage_id"]).where("id", "in", [ids[0]!, ids[3]!]).orderBy("id").execute()
    ).map((r) => r.stage_id);
    await sql`UPDATE task SET status = 'DONE' WHERE id IN (${ids[1]}, ${ids[4]})`.execute(t.db);
    await sql`UPDATE task SET status = 'FAILED' WHERE id IN (${ids[1]}, ${ids[2]})`.execute(t.db);
    expect(await deltas()).toBe(3);
    // A task moved to the other stage counts off one and on the other.
    await sql`UPDATE task SET stage_id = ${s1} WHERE id = ${ids[1]}`.execute(t.db);
    await sql`UPDATE task SET stage_id = ${s0}, status = 'DONE' WHERE id = ${ids[4]}`.execute(t.db);
    await fold();
  });

  it("status counts per stage (0067) equal the task table before and after a fold, through every kind of change", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, ids } = await twoStageRollout(projectId, instanceId);
    await twoStageRollout(projectId, instanceId); // another rollout, whose counts must not leak into the first's
    const pending = new PendingScheduler({ db: t.db, clock: { now: () => new Date() }, replicaId: "p", fullPassIntervalMs: 1e12 });
    const expectExact = async () => {
      const { rows } = await sql<{ stage_id: string; status: string; n: number }>`
        SELECT s.id::text AS stage_id, tk.status, count(*)::int AS n FROM stage s JOIN task tk ON tk.stage_id = s.id
        WHERE s.rollout_id = ${rolloutId} GROUP BY 1, 2`.execute(t.db);
      const want: Record<string, Record<string, number>> = {};
      for (const r of rows) (want[r.stage_id] ??= Object.fromEntries(TASK_STATUS_ORDER.map((x) => [x, 0])))[r.status] = r.n;
      const got = (await rolloutGet(t.db, rolloutId))!;
      expect(Object.fromEntries(got.stages.map((x) => [x.id, x.statusCounts]))).toEqual(want);
      const total = Object.fromEntries(TASK_STATUS_ORDER.map((x) => [x, rows.filter((r) => r.status === x).reduce((a, r) => a + r.n, 0)]));
      expect(got.statusCounts).toEqual(total);
    };
    const step = async () => {
      await expectExact(); // deltas not folded yet
      await pending.runOnce({ full: true });
      expect(Number((await sql<{ n: string }>`SELECT count(*) AS n FROM stage_status_delta`.execute(t.db)).rows[0]!.n)).toBe(0);
      await expectExact();
    };
    await step();
    await tasksSkip(t.db, { rolloutId, taskIds: [ids[0]!], reason: "not needed", now: new Date() });
    await sql`UPDATE task SET status = 'PENDING' WHERE id IN (${ids[1]}, ${ids[2]}, ${ids[3]})`.execute(t.db);
    await sql`UPDATE task SET status = 'AVAILABLE' WHERE id = ${ids[1]}`.execute(t.db);
    await step();
    await sql`UPDATE task SET status = 'RUNNING' WHERE id IN (${ids[1]}, ${ids[2]})`.execute(t.db);
    await sql`UPDATE task SET status = 'DONE' WHERE id = ${ids[1]}`.execute(t.db);
    await sql`UPDATE task SET status = 'FAILED' WHERE id = ${ids[2]}`.execute(t.db);
    await sql`UPDATE task SET status = 'CANCELED', stage_id = (SELECT stage_id FROM task WHERE id = ${ids[0]}) WHERE id = ${ids[3]}`.execute(
      t.db,
    );
    await step();
  });
});
