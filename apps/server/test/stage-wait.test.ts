import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import { TaskType } from "@runway/shared";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { rolloutPauseApi, rolloutResume } from "../src/store/gates.js";
import { gatingWriteStageCauses } from "../src/store/gating.js";
import { rolloutCreate } from "../src/store/rollouts.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { tasksRun } from "../src/store/task-actions.js";
import { taskRunGet } from "../src/store/task-reads.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, task } from "./helpers/fixtures.js";

/**
 * Release controls' causes recorded once per stage (migration 0069, domain/cause-records.ts): what a pass
 * writes where, what every reader of a run's cause sees, and when a stage's row goes.
 */

const t = useTestDatabase();
const now = () => new Date();
const scheduler = () => new PendingScheduler({ db: t.db, clock: { now }, replicaId: "r1", fullPassIntervalMs: 3_600_000 });
const data = (instanceId: string, database: string) => task(instanceId, database, { type: TaskType.DATABASE_DATA_UPDATE });

async function settle(s: PendingScheduler) {
  for (let i = 0; i < 10; i++) if (!(await s.runOnce())?.more) return;
}

/** A two-stage rollout (staging: 1 task, prod: `prod` tasks), every task run. */
async function twoStages(prod: number, limit = 0) {
  const { projectId, instanceId } = await seedProject(t.db, { limit });
  const rolloutId = await rolloutCreate(
    t.db,
    {
      projectId,
      title: "r",
      createdBy: "alice",
      stages: [
        { environment: "staging", tasks: [data(instanceId, "s1")] },
        { environment: "prod", tasks: Array.from({ length: prod }, (_, i) => data(instanceId, `p${i}`)) },
      ],
    },
    now(),
  );
  const tasks = await t.db
    .selectFrom("task")
    .innerJoin("stage", "stage.id", "task.stage_id")
    .select(["task.id", "stage.environment", "task.stage_id"])
    .where("task.rollout_id", "=", rolloutId)
    .orderBy("task.id")
    .execute();
  await tasksRun(t.db, { rolloutId, taskIds: tasks.map((x) => x.id), runAt: null, actor: "alice", now: now() });
  const prodStage = tasks.find((x) => x.environment === "prod")!.stage_id;
  const stagingStage = tasks.find((x) => x.environment === "staging")!.stage_id;
  return { rolloutId, prodStage, stagingStage };
}

const runsOfStage = async (stageId: string) =>
  (
    await sql<{ id: string; status: string; own: string | null; recorded: string | null }>`
      SELECT r.id, r.status, w.type AS own, rw.type AS recorded FROM task_run r JOIN task tk ON tk.id = r.task_id
      LEFT JOIN task_run_wait w ON w.run_id = r.id LEFT JOIN run_wait rw ON rw.run_id = r.id
      WHERE tk.stage_id = ${stageId} ORDER BY r.id`.execute(t.db)
  ).rows;
const stageRows = async () =>
  (await sql<{ stage_id: string; type: string }>`SELECT stage_id, type FROM stage_wait ORDER BY stage_id`.execute(t.db)).rows;

async function finishStaging() {
  const claimed = await taskRunsClaim(t.db, { replicaId: "w", limit: 100, leaseTtlMs: 60_000, now: now() });
  for (const c of claimed) {
    await taskRunFinish(t.db, { runId: c.id, replicaId: "w", epoch: c.epoch, status: "DONE", result: {}, message: "", now: now() });
  }
}

describe("release controls' causes, once per stage", () => {
  it("a full pass writes one row for a held stage and none for its runs; every run reads the stage's cause", async () => {
    const r = await twoStages(5);
    await scheduler().runOnce({ full: true });
    expect(await stageRows()).toEqual([{ stage_id: r.prodStage, type: "STAGE_GATE" }]);
    const runs = await runsOfStage(r.prodStage);
    expect(runs.map((x) => [x.status, x.own, x.recorded])).toEqual(Array(5).fill(["PENDING", null, "STAGE_GATE"]));
    // The API's read of a run names the cause as before.
    const api = await taskRunGet(t.db, runs[0]!.id);
    expect(api!.waitingCause).toMatchObject({ type: "STAGE_GATE", stageId: r.stagingStage, environment: "staging", total: 1 });
    // A second full pass finds every cause recorded: nothing written, and the stage's `since` stays.
    const since = async () => (await sql<{ s: string }>`SELECT cause ->> 'since' AS s FROM stage_wait`.execute(t.db)).rows[0]!.s;
    const first = await since();
    const again = await scheduler().runOnce({ full: true });
    expect(again!.causesWritten).toBe(0);
    expect(await since()).toBe(first);
  });

  it("a full pass reads no run of a held stage without a cause of its own; one with its own row is read and moved; orphans still fail", async () => {
    const r = await twoStages(5);
    const s = scheduler();
    // The staging run needs no gate (created AVAILABLE): the pass has nothing to read.
    expect(await s.runOnce({ full: true })).toMatchObject({ candidates: 0 });
    expect(await stageRows()).toEqual([{ stage_id: r.prodStage, type: "STAGE_GATE" }]);
    const [a] = await runsOfStage(r.prodStage);
    await sql`INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at)
      SELECT id, 'RUN_AT', '{"type":"RUN_AT","runAt":"2099-01-01T00:00:00.000Z","since":"2026-01-01T00:00:00.000Z"}', rollout_id, created_at
      FROM task_run WHERE id = ${a!.id}`.execute(t.db);
    expect(await s.runOnce({ full: true })).toMatchObject({ candidates: 1, causesWritten: 1 });
    expect((await runsOfStage(r.prodStage)).map((x) => [x.own, x.recorded])).toEqual(Array(5).fill([null, "STAGE_GATE"]));
    // An orphan is failed whatever holds it.
    await sql`UPDATE instance SET deleted = true`.execute(t.db);
    expect(await s.runOnce({ full: true })).toMatchObject({ candidates: 5, failed: 5 });
  });

  it("the stage's last earlier task done: its runs get their own causes or go, and the stage's row goes", async () => {
    const r = await twoStages(4, 3);
    const s = scheduler();
    await s.runOnce({ full: true });
    await finishStaging();
    await settle(s);
    const runs = await runsOfStage(r.prodStage);
    // Limit 3: three promoted, the fourth waits on the limit with a row of its own.
    expect(runs.map((x) => x.status).sort()).toEqual(["AVAILABLE", "AVAILABLE", "AVAILABLE", "PENDING"]);
    expect(runs.find((x) => x.status === "PENDING")).toMatchObject({ own: "PARALLEL_LIMIT", recorded: "PARALLEL_LIMIT" });
    expect(await stageRows()).toEqual([]);
  });

  it("a pause moves a run's own cause to the stage's row; resume gives it back", async () => {
    const r = await twoStages(3, 1);
    const s = scheduler();
    await settle(s);
    await finishStaging();
    await settle(s);
    const limited = (await runsOfStage(r.prodStage)).filter((x) => x.status === "PENDING");
    expect(limited.map((x) => x.own)).toEqual(["PARALLEL_LIMIT", "PARALLEL_LIMIT"]);
    await rolloutPauseApi(t.db, { rolloutId: r.rolloutId, by: "ann", reason: "look", now: now() });
    await settle(s);
    const paused = await runsOfStage(r.prodStage);
    expect(paused.map((x) => [x.status, x.own, x.recorded])).toEqual(Array(3).fill(["PENDING", null, "PAUSED"]));
    expect(await stageRows()).toEqual([{ stage_id: r.prodStage, type: "PAUSED" }]);
    await rolloutResume(t.db, { rolloutId: r.rolloutId, now: now() });
    await settle(s);
    const resumed = await runsOfStage(r.prodStage);
    expect(resumed.map((x) => x.status).sort()).toEqual(["AVAILABLE", "PENDING", "PENDING"]);
    expect(resumed.filter((x) => x.status === "PENDING").map((x) => x.own)).toEqual(["PARALLEL_LIMIT", "PARALLEL_LIMIT"]);
    expect(await stageRows()).toEqual([]);
  });

  it("a freed stage's row stays while a PENDING run there has no row of its own", async () => {
    const r = await twoStages(2);
    await scheduler().runOnce({ full: true });
    const [a, b] = await runsOfStage(r.prodStage);
    // A pass that evaluated only `a` and found it waiting on a cause of its own.
    await sql`INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at)
      SELECT id, 'RUN_AT', '{"type":"RUN_AT","runAt":"2099-01-01T00:00:00.000Z","since":"2026-01-01T00:00:00.000Z"}', rollout_id, created_at
      FROM task_run WHERE id = ${a!.id}`.execute(t.db);
    await gatingWriteStageCauses(t.db, { stages: [], held: [], freed: [r.prodStage] });
    expect(await stageRows()).toHaveLength(1);
    expect((await runsOfStage(r.prodStage)).map((x) => x.recorded)).toEqual(["RUN_AT", "STAGE_GATE"]);
    // `b` evaluated too: no run of the stage needs its row.
    await t.db.updateTable("task_run").set({ status: "CANCELED" }).where("id", "=", b!.id).execute();
    await gatingWriteStageCauses(t.db, { stages: [], held: [], freed: [r.prodStage] });
    expect(await stageRows()).toEqual([]);
  });

  it("a run's own row (a replica of the previous release writes release controls' causes per run) wins until a pass moves it", async () => {
    const r = await twoStages(2);
    const s = scheduler();
    await s.runOnce({ full: true });
    const [a] = await runsOfStage(r.prodStage);
    await sql`INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at)
      SELECT id, 'PAUSED', '{"type":"PAUSED","by":"old","at":"2026-01-01T00:00:00.000Z","reason":"","since":"2026-01-01T00:00:00.000Z"}',
        rollout_id, created_at FROM task_run WHERE id = ${a!.id}`.execute(t.db);
    expect((await runsOfStage(r.prodStage)).map((x) => x.recorded)).toEqual(["PAUSED", "STAGE_GATE"]);
    await s.runOnce({ full: true });
    expect((await runsOfStage(r.prodStage)).map((x) => [x.own, x.recorded])).toEqual([
      [null, "STAGE_GATE"],
      [null, "STAGE_GATE"],
    ]);
  });
});
