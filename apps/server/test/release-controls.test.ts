import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { projectPoliciesPut, rolloutPauseApi, rolloutResume, stageDecide } from "../src/store/gates.js";
import { rolloutCreate, type NewTask } from "../src/store/rollouts.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { tasksRun, tasksSkip } from "../src/store/task-actions.js";
import { useTestDatabase } from "./helpers/db.js";
import { autoRunProd, seedProject, task } from "./helpers/fixtures.js";

/** Scheduler tests of the release controls (issue 13): stage order, approvals, auto-run, pause, circuit breaker. */

const t = useTestDatabase();

const now = () => new Date();
const scheduler = () => new PendingScheduler({ db: t.db, clock: { now }, replicaId: "r1", fullPassIntervalMs: 3_600_000 });

/** Passes until none asks for a follow-up (bounded). */
async function settle(s: PendingScheduler) {
  for (let i = 0; i < 10; i++) if (!(await s.runOnce())?.more) return;
}

async function stagedRollout(projectId: string, stages: { environment: string; tasks: NewTask[] }[], stageOrder?: "NONE" | "IN_ORDER") {
  const rolloutId = await rolloutCreate(
    t.db,
    { projectId, title: "r", createdBy: "alice", stages, ...(stageOrder ? { stageOrder } : {}) },
    now(),
  );
  const tasks = await t.db
    .selectFrom("task")
    .innerJoin("stage", "stage.id", "task.stage_id")
    .select(["task.id", "stage.environment", "task.stage_id"])
    .where("task.rollout_id", "=", rolloutId)
    .orderBy("task.id")
    .execute();
  const byEnv = (env: string) => tasks.filter((x) => x.environment === env).map((x) => x.id);
  const stageOf = (env: string) => tasks.find((x) => x.environment === env)!.stage_id;
  return { rolloutId, byEnv, stageOf, all: tasks.map((x) => x.id) };
}

async function runsOf(taskIds: string[]) {
  const rows = await t.db
    .selectFrom("task_run")
    .leftJoin("run_wait", "run_wait.run_id", "task_run.id")
    .select(["task_run.id", "task_run.task_id", "task_run.status", "task_run.lease_epoch", "run_wait.cause"])
    .where("task_run.task_id", "in", taskIds)
    .where("task_run.status", "in", ["PENDING", "AVAILABLE", "RUNNING", "DONE", "FAILED", "CANCELED"])
    .orderBy("task_run.id")
    .execute();
  return rows as { id: string; task_id: string; status: string; lease_epoch: number; cause: Record<string, unknown> | null }[];
}

async function finishAll(status: "DONE" | "FAILED") {
  const claimed = await taskRunsClaim(t.db, { replicaId: "w", limit: 100, leaseTtlMs: 60_000, now: now() });
  for (const c of claimed) {
    await taskRunFinish(t.db, { runId: c.id, replicaId: "w", epoch: c.epoch, status, result: {}, message: "", now: now() });
  }
  return claimed;
}

const data = (instanceId: string, database: string) => task(instanceId, database, { type: TaskType.DATABASE_DATA_UPDATE });

describe("STAGE_GATE", () => {
  it("holds a later stage's runs until every task of every earlier stage is DONE or SKIPPED", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const r = await stagedRollout(projectId, [
      { environment: "staging", tasks: [data(instanceId, "s1"), data(instanceId, "s2")] },
      { environment: "prod", tasks: [data(instanceId, "p1")] },
    ]);
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: r.all, runAt: null, actor: "alice", now: now() });
    const s = scheduler();
    await settle(s);
    const [prod] = await runsOf(r.byEnv("prod"));
    expect(prod).toMatchObject({ status: "PENDING", cause: { type: "STAGE_GATE", stageId: r.stageOf("staging"), environment: "staging" } });
    expect(prod!.cause).toMatchObject({ done: 0, total: 2 });
    // Staging runs need no gate at all (data updates, no limit): created AVAILABLE.
    expect((await runsOf(r.byEnv("staging"))).map((x) => x.status)).toEqual(["AVAILABLE", "AVAILABLE"]);

    const claimed = await taskRunsClaim(t.db, { replicaId: "w", limit: 1, leaseTtlMs: 60_000, now: now() });
    await taskRunFinish(t.db, {
      runId: claimed[0]!.id,
      replicaId: "w",
      epoch: claimed[0]!.epoch,
      status: "DONE",
      result: {},
      message: "",
      now: now(),
    });
    await settle(s);
    expect((await runsOf(r.byEnv("prod")))[0]!.status).toBe("PENDING");

    // The other staging task is skipped instead (its run canceled first): the stage is complete.
    const other = (await runsOf(r.byEnv("staging"))).find((x) => x.status === "AVAILABLE")!;
    await t.db.updateTable("task_run").set({ status: "CANCELED" }).where("id", "=", other.id).execute();
    await t.db.updateTable("task").set({ status: "CANCELED" }).where("id", "=", other.task_id).execute();
    await tasksSkip(t.db, { rolloutId: r.rolloutId, taskIds: [other.task_id], reason: "not needed", now: now() });
    await settle(s);
    expect((await runsOf(r.byEnv("prod")))[0]).toMatchObject({ status: "AVAILABLE", cause: null });
  });

  it("names the nearest unfinished earlier stage, and a rollout created with stageOrder NONE has no stage gate", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const stages = [
      { environment: "test", tasks: [data(instanceId, "t1")] },
      { environment: "staging", tasks: [data(instanceId, "s1")] },
      { environment: "prod", tasks: [data(instanceId, "p1")] },
    ];
    const r = await stagedRollout(projectId, stages);
    const free = await stagedRollout(projectId, stages, "NONE");
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: r.all, runAt: null, actor: "alice", now: now() });
    await tasksRun(t.db, { rolloutId: free.rolloutId, taskIds: free.all, runAt: null, actor: "alice", now: now() });
    await settle(scheduler());
    expect((await runsOf(r.byEnv("prod")))[0]!.cause).toMatchObject({ type: "STAGE_GATE", environment: "staging" });
    expect((await runsOf(r.byEnv("staging")))[0]!.cause).toMatchObject({ type: "STAGE_GATE", environment: "test" });
    expect((await runsOf(free.all)).map((x) => x.status)).toEqual(["AVAILABLE", "AVAILABLE", "AVAILABLE"]);
  });
});

describe("APPROVAL_REQUIRED", () => {
  it("holds a stage's runs until approved; a rejection cancels them with the comment", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await projectPoliciesPut(
      t.db,
      projectId,
      {
        circuitBreakerFailures: 0,
        environments: [{ environment: "prod", autoRun: false, approval: "releaser", approverNotCreator: true }],
      },
      "admin",
      now(),
    );
    const a = await stagedRollout(projectId, [{ environment: "prod", tasks: [data(instanceId, "a")] }]);
    const b = await stagedRollout(projectId, [{ environment: "prod", tasks: [data(instanceId, "b")] }]);
    await tasksRun(t.db, { rolloutId: a.rolloutId, taskIds: a.all, runAt: null, actor: "alice", now: now() });
    await tasksRun(t.db, { rolloutId: b.rolloutId, taskIds: b.all, runAt: null, actor: "alice", now: now() });
    const s = scheduler();
    await settle(s);
    expect((await runsOf(a.all))[0]).toMatchObject({
      status: "PENDING",
      cause: { type: "APPROVAL_REQUIRED", stageId: a.stageOf("prod"), role: "releaser" },
    });

    await stageDecide(t.db, {
      rolloutId: a.rolloutId,
      stageId: a.stageOf("prod"),
      decision: "APPROVED",
      by: "bob",
      comment: "ok",
      now: now(),
    });
    await stageDecide(t.db, {
      rolloutId: b.rolloutId,
      stageId: b.stageOf("prod"),
      decision: "REJECTED",
      by: "bob",
      comment: "not today",
      now: now(),
    });
    await settle(s);
    expect((await runsOf(a.all))[0]).toMatchObject({ status: "AVAILABLE" });
    const [rejected] = await runsOf(b.all);
    expect(rejected!.status).toBe("CANCELED");
    const log = await t.db
      .selectFrom("task_run_log")
      .select("payload")
      .where("task_run_id", "=", rejected!.id)
      .orderBy("id", "desc")
      .executeTakeFirst();
    expect(log!.payload).toMatchObject({ status: "CANCELED", message: "stage rejected by bob: not today", by: "api" });
  });
});

describe("auto-run", () => {
  it("runs the next stage's tasks without a click when the previous stage completes", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await projectPoliciesPut(t.db, projectId, autoRunProd, "admin", now());
    const r = await stagedRollout(projectId, [
      { environment: "staging", tasks: [data(instanceId, "s1")] },
      { environment: "prod", tasks: [data(instanceId, "p1"), data(instanceId, "p2")] },
    ]);
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: r.byEnv("staging"), runAt: null, actor: "alice", now: now() });
    const s = scheduler();
    await settle(s);
    expect(await runsOf(r.byEnv("prod"))).toEqual([]);
    await finishAll("DONE");
    await settle(s);
    const prod = await runsOf(r.byEnv("prod"));
    expect(prod.map((x) => x.status)).toEqual(["AVAILABLE", "AVAILABLE"]);
    const created = await t.db.selectFrom("task_run").select(["created_by"]).where("task_id", "in", r.byEnv("prod")).execute();
    expect(created.map((c) => c.created_by)).toEqual(["auto-run", "auto-run"]);
  });
});

describe("PAUSED", () => {
  it("pausing puts AVAILABLE runs back to PENDING, holds them, and stops claims even of a stale AVAILABLE run; resume lets them go", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const r = await stagedRollout(projectId, [{ environment: "prod", tasks: [data(instanceId, "a"), data(instanceId, "b")] }]);
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: r.all, runAt: null, actor: "alice", now: now() });
    expect((await runsOf(r.all)).map((x) => x.status)).toEqual(["AVAILABLE", "AVAILABLE"]);
    const pause = await rolloutPauseApi(t.db, { rolloutId: r.rolloutId, by: "bob", reason: "errors up", now: now() });
    expect((await runsOf(r.all)).map((x) => x.status)).toEqual(["PENDING", "PENDING"]);
    const s = scheduler();
    await settle(s);
    expect((await runsOf(r.all))[0]!.cause).toMatchObject({ type: "PAUSED", by: "bob", reason: "errors up", at: pause.at });

    // A stale AVAILABLE row (a run made AVAILABLE by a statement that did not see the pause): not claimed.
    const [first] = await runsOf(r.all);
    await t.db.updateTable("task_run").set({ status: "AVAILABLE" }).where("id", "=", first!.id).execute();
    expect(await taskRunsClaim(t.db, { replicaId: "w", limit: 10, leaseTtlMs: 60_000, now: now() })).toEqual([]);
    await t.db.updateTable("task_run").set({ status: "PENDING" }).where("id", "=", first!.id).execute();

    await rolloutResume(t.db, { rolloutId: r.rolloutId, now: now() });
    await settle(s);
    expect((await runsOf(r.all)).map((x) => x.status)).toEqual(["AVAILABLE", "AVAILABLE"]);
  });

  it("the circuit breaker pauses a rollout after N failed runs, says so in `by`, and audits it", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await projectPoliciesPut(t.db, projectId, { circuitBreakerFailures: 2, environments: [] }, "admin", now());
    const r = await stagedRollout(projectId, [
      { environment: "prod", tasks: [data(instanceId, "a"), data(instanceId, "b"), data(instanceId, "c"), data(instanceId, "d")] },
    ]);
    const s = scheduler();
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: r.all.slice(0, 2), runAt: null, actor: "alice", now: now() });
    await settle(s);
    await finishAll("FAILED");
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: r.all.slice(2), runAt: null, actor: "alice", now: now() });
    await settle(s);
    const later = await runsOf(r.all.slice(2));
    expect(later.map((x) => x.status)).toEqual(["PENDING", "PENDING"]);
    expect(later[0]!.cause).toMatchObject({ type: "PAUSED", by: "circuit-breaker", reason: "2 failed runs" });
    const audit = await t.db.selectFrom("audit_log").selectAll().where("action", "=", "rollout.pause").execute();
    expect(audit).toEqual([expect.objectContaining({ actor: "circuit-breaker", target: `rollout/${r.rolloutId}`, outcome: "SUCCESS" })]);

    // Resumed, it counts failures from then on: the two old ones do not pause it again.
    await rolloutResume(t.db, { rolloutId: r.rolloutId, now: now() });
    await settle(s);
    expect((await runsOf(r.all.slice(2))).map((x) => x.status)).toEqual(["AVAILABLE", "AVAILABLE"]);
  });

  it("a live pass that trips a breaker promotes none of the runs it read before the trip (its read holds the controls)", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await projectPoliciesPut(t.db, projectId, { circuitBreakerFailures: 1, environments: [] }, "admin", now());
    // A and B: schema changes on one database (B waits for A); C: a data update elsewhere, to fail.
    const r = await stagedRollout(projectId, [
      { environment: "prod", tasks: [task(instanceId, "x"), task(instanceId, "x"), data(instanceId, "y")] },
    ]);
    const [a, b, c] = r.all as [string, string, string];
    const s = scheduler();
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: r.all, runAt: null, actor: "alice", now: now() });
    await settle(s);
    expect((await runsOf([b]))[0]).toMatchObject({ status: "PENDING", cause: { type: "DATABASE_BUSY" } });
    const claimed = await taskRunsClaim(t.db, { replicaId: "w", limit: 10, leaseTtlMs: 60_000, now: now() });
    expect(claimed.map((x) => x.taskId).sort()).toEqual([a, c].sort());
    // In one pass: C's failure trips the breaker, and A's end frees the database B waits for.
    for (const [taskId, status] of [
      [c, "FAILED"],
      [a, "DONE"],
    ] as const) {
      const run = claimed.find((x) => x.taskId === taskId)!;
      await taskRunFinish(t.db, { runId: run.id, replicaId: "w", epoch: run.epoch, status, result: {}, message: "", now: now() });
    }
    const pass = await s.runOnce();
    expect(pass).toMatchObject({ kind: "live", promoted: 0, more: true });
    expect((await runsOf([b]))[0]).toMatchObject({ status: "PENDING", cause: { type: "PAUSED", by: "circuit-breaker" } });
  });

  it("a breaker tripped in the pass where an earlier stage completes holds the next stage's auto-run", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await projectPoliciesPut(t.db, projectId, { ...autoRunProd, circuitBreakerFailures: 1 }, "admin", now());
    const r = await stagedRollout(projectId, [
      { environment: "staging", tasks: [data(instanceId, "s1")] },
      { environment: "prod", tasks: [data(instanceId, "p1")] },
    ]);
    const s = scheduler();
    const [s1] = r.byEnv("staging") as [string];
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: [s1], runAt: null, actor: "alice", now: now() });
    await settle(s);
    // No pass in between: s1's first run fails, its rerun is done (the stage completes), one failure counts.
    const [first] = await finishAll("FAILED");
    expect(first).toBeDefined();
    await tasksRun(t.db, { rolloutId: r.rolloutId, taskIds: [s1], runAt: null, actor: "alice", now: now() });
    expect(await finishAll("DONE")).toHaveLength(1);
    await s.runOnce();
    expect(await runsOf(r.byEnv("prod"))).toEqual([]);
    const pause = await t.db.selectFrom("rollout_pause").selectAll().where("rollout_id", "=", r.rolloutId).executeTakeFirst();
    expect(pause).toMatchObject({ paused_by: "circuit-breaker", automatic: true });
  });
});
