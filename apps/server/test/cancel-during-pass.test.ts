import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunsCancel } from "../src/store/task-actions.js";
import { type TestDatabase, useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { afterStatement } from "./helpers/statement-hook.js";

/**
 * Bug 6 of issue 10 (repro cancel-during-pass): a PENDING run canceled between a pass's candidate read
 * and its promotion must not count as occupying its database or its rollout's limit.
 */
const t = useTestDatabase();

/** Runs `hook` once, right after the pass's candidate read (the statement that selects blocker_task_id). */
const afterCandidateRead = (hook: () => Promise<void>) => afterStatement(/blocker_task_id/, hook);

const clock = { now: () => new Date() };
const runs = (db: TestDatabase["db"]) =>
  db
    .selectFrom("task_run")
    .leftJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
    .select(["task_run.id", "task_run.status", "task_run_wait.cause"])
    .orderBy("task_run.id")
    .execute();

describe("a cancel during a pending pass", () => {
  it("does not leave what the canceled run would have blocked waiting (sequential database)", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId } = await seedRollout(t.db, projectId, [task(instanceId, "d"), task(instanceId, "d")]);
    const [x] = await t.db.selectFrom("task_run").select(["id"]).orderBy("id").execute();
    const hooked = t.db.withPlugin(
      afterCandidateRead(() =>
        taskRunsCancel(t.db, { rolloutId, taskRunIds: [x!.id], actor: "alice", now: new Date(), replicaId: "api" }).then(() => undefined),
      ),
    );
    await new PendingScheduler({ db: hooked, clock, replicaId: "p1", fullPassIntervalMs: 1e12 }).runOnce();
    // The racing pass itself already promotes the next run: the canceled one never counted.
    const after = await runs(t.db);
    expect(after.map((r) => r.status)).toEqual(["CANCELED", "AVAILABLE"]);
    expect(after[1]!.cause).toBeNull();
  });

  it("does not count against the rollout's parallel limit; a live pass of another replica needs no full pass", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    const { rolloutId } = await seedRollout(t.db, projectId, [
      task(instanceId, "a", { type: "DATABASE_DATA_UPDATE" }),
      task(instanceId, "b", { type: "DATABASE_DATA_UPDATE" }),
    ]);
    const [x] = await t.db.selectFrom("task_run").select(["id"]).orderBy("id").execute();
    const hooked = t.db.withPlugin(
      afterCandidateRead(() =>
        taskRunsCancel(t.db, { rolloutId, taskRunIds: [x!.id], actor: "alice", now: new Date(), replicaId: "api" }).then(() => undefined),
      ),
    );
    await new PendingScheduler({ db: hooked, clock, replicaId: "p1", fullPassIntervalMs: 1e12 }).runOnce();
    const other = new PendingScheduler({ db: t.db, clock, replicaId: "p2", fullPassIntervalMs: 1e12 });
    (other as unknown as { fullDue: boolean }).fullDue = false; // live passes only
    const r = await other.runOnce();
    expect(r?.kind).toBe("live");
    expect((await runs(t.db)).map((x) => x.status)).toEqual(["CANCELED", "AVAILABLE"]);
  });
});
