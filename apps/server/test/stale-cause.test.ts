import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunsCancel } from "../src/store/task-actions.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { afterStatement } from "./helpers/statement-hook.js";

/**
 * A pass writes causes in its transaction; a cancel that commits before that transaction does deletes the
 * run's cause row without seeing the uncommitted one, which the pass then commits: a cause for a CANCELED
 * run, which no one deleted (docs/scheduler.md). The cancel marks the run, and the next pass removes it.
 */
const t = useTestDatabase();
const clock = { now: () => new Date() };

describe("a cancel that commits while a pass's causes are uncommitted", () => {
  it.each(["live", "full"])("leaves no cause row for the canceled run once the next pass (%s) ran", async (kind) => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId } = await seedRollout(t.db, projectId, [task(instanceId, "d"), task(instanceId, "d"), task(instanceId, "d")]);
    const ids = (await t.db.selectFrom("task_run").select(["id"]).orderBy("id").execute()).map((r) => r.id);
    const hooked = t.db.withPlugin(
      afterStatement(/INSERT INTO task_run_wait/, () =>
        taskRunsCancel(t.db, { rolloutId, taskRunIds: [ids[2]!], actor: "alice", now: new Date(), replicaId: "api" }).then(() => undefined),
      ),
    );
    const pass = new PendingScheduler({ db: hooked, clock, replicaId: "p1", fullPassIntervalMs: 1e12 });
    await pass.runOnce({ full: true });
    // The cancel marked the run; the next pass, live or full, removes the cause the racing one committed.
    await new PendingScheduler({ db: t.db, clock, replicaId: "p2", fullPassIntervalMs: 1e12 }).runOnce(
      kind === "full" ? { full: true } : {},
    );
    const rows = await t.db
      .selectFrom("task_run")
      .leftJoin("task_run_wait", "task_run_wait.run_id", "task_run.id")
      .select(["task_run.id", "task_run.status", "task_run_wait.type"])
      .orderBy("task_run.id")
      .execute();
    expect(rows.map((r) => [r.status, r.type])).toEqual([
      ["AVAILABLE", null],
      ["PENDING", "DATABASE_BUSY"],
      ["CANCELED", null],
    ]);
  });
});
