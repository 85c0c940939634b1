import { describe, expect, it } from "vitest";
import type { ExecOutcome, Executor, Reconciled, TargetReconciler } from "../src/executors/types.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { taskRunGet } from "../src/store/task-reads.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * Bug 1 of issue 10, scheduler side (repros target-down, target-reset): an execution that could not
 * reach its target (RETRY, nothing committed) sends the run back to PENDING with a backoff and the cause
 * TARGET_UNREACHABLE, for up to the retry window, then FAILED saying so; later versions keep waiting.
 */
const t = useTestDatabase();

/** Every execution fails to connect (as a refused or reset target does). */
class UnreachableExecutor implements Executor {
  attempts = 0;
  constructor(private readonly notStarted: boolean) {}
  async execute(): Promise<ExecOutcome> {
    this.attempts++;
    return {
      status: "RETRY",
      notStarted: this.notStarted,
      message: "target unreachable: connect ECONNREFUSED 127.0.0.1:1",
      result: { error: { message: "connect ECONNREFUSED 127.0.0.1:1", code: "ECONNREFUSED" } },
    };
  }
}

describe("a target that cannot be reached", () => {
  it("requeues with a backoff and TARGET_UNREACHABLE, keeps later versions waiting, and FAILs after the retry window", async () => {
    let now = new Date("2030-01-01T00:00:00Z");
    const clock = { now: () => now };
    const { projectId, instanceId } = await seedProject(t.db);
    const { taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, "a", { schemaVersion: "1" }),
      task(instanceId, "a", { schemaVersion: "2" }),
    ]);
    const pending = new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e12 });
    const exec = new UnreachableExecutor(true);
    const rs = new RunningScheduler({
      db: t.db,
      clock,
      replicaId: "r",
      concurrency: 2,
      leaseTtlMs: 60_000,
      executorFor: () => exec,
      targetRetryMs: 10_000,
    });
    const v1 = async () =>
      (await taskRunGet(
        t.db,
        (await t.db.selectFrom("task_run").select("id").where("task_id", "=", taskIds[0]!).executeTakeFirstOrThrow()).id,
      ))!;
    const v2 = async () =>
      (await taskRunGet(
        t.db,
        (await t.db.selectFrom("task_run").select("id").where("task_id", "=", taskIds[1]!).executeTakeFirstOrThrow()).id,
      ))!;
    const attempt = async () => {
      expect(await pending.runOnce()).toMatchObject({ promoted: 1 });
      expect(await rs.runOnce()).toBe(1);
      await waitFor(async () => rs.activeCount === 0, { what: "execution ended" });
      await pending.runOnce(); // records the cause
    };

    const t0 = now;
    await attempt();
    expect(await v1()).toMatchObject({
      status: "PENDING",
      waitingCause: {
        type: "TARGET_UNREACHABLE",
        attempts: 1,
        lastError: "connect ECONNREFUSED 127.0.0.1:1",
        retryAt: new Date(t0.getTime() + 1000).toISOString(),
        since: t0.toISOString(),
      },
    });
    expect(await v2()).toMatchObject({ status: "PENDING", waitingCause: { type: "VERSION_ORDER", taskId: taskIds[0] } });
    // Not before its retry time.
    expect(await pending.runOnce()).toMatchObject({ promoted: 0 });

    now = new Date(t0.getTime() + 1500);
    await attempt();
    expect(await v1()).toMatchObject({
      status: "PENDING",
      waitingCause: {
        type: "TARGET_UNREACHABLE",
        attempts: 2,
        retryAt: new Date(now.getTime() + 2000).toISOString(),
        since: t0.toISOString(),
      },
    });

    // Past the window (10 s here; RUNWAY_TARGET_RETRY_S, default 600) but after 2 attempts only: a run
    // held elsewhere between attempts has no evidence the target was down all along, so it retries.
    now = new Date(t0.getTime() + 12_000);
    await attempt();
    expect(await v1()).toMatchObject({
      status: "PENDING",
      waitingCause: { type: "TARGET_UNREACHABLE", attempts: 3, retryAt: new Date(now.getTime() + 4000).toISOString() },
    });
    now = new Date(t0.getTime() + 16_000);
    await attempt();
    // The fifth attempt is one more than the backoff makes in 10 s (0, 1, 3, 7 s): FAILED, and the message says why.
    now = new Date(t0.getTime() + 24_000);
    expect(await pending.runOnce()).toMatchObject({ promoted: 1 });
    expect(await rs.runOnce()).toBe(1);
    await waitFor(async () => rs.activeCount === 0, { what: "execution ended" });
    const failed = await v1();
    expect(failed.status).toBe("FAILED");
    expect((failed.result as { error: { message: string } }).error.message).toMatch(
      /^target unreachable for 24 s \(5 attempts, limit RUNWAY_TARGET_RETRY_S=10\): connect ECONNREFUSED/,
    );
    expect(exec.attempts).toBe(5);
    await pending.runOnce();
    // The failed version holds the next one for good, and its cause now says so (issue 14).
    expect(await v2()).toMatchObject({ status: "PENDING", waitingCause: { type: "BLOCKED_BY_FAILED", status: "FAILED" } });
  });

  it("a non-re-runnable statement that may have started is settled on the target instead of being requeued", async () => {
    const clock = { now: () => new Date() };
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(t.db, projectId, [
      task(instanceId, "a", { statement: "CREATE INDEX CONCURRENTLY i1 ON t (x)" }),
      task(instanceId, "b", { statement: "CREATE INDEX CONCURRENTLY i2 ON t (x)" }),
    ]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
    const answers: Record<string, Reconciled> = {};
    const reconciler: TargetReconciler = { reconcile: async (run) => answers[run.database]! };
    answers.a = { state: "applied", attempt: 1, appliedAt: new Date("2030-01-01T00:00:00Z") };
    const leftover = "the interrupted build left the index i2 INVALID: drop it (DROP INDEX CONCURRENTLY i2) before running the task again";
    answers.b = { state: "not_applied", leftover };
    const rs = new RunningScheduler({
      db: t.db,
      clock,
      replicaId: "r",
      concurrency: 2,
      leaseTtlMs: 60_000,
      executorFor: () => new UnreachableExecutor(false),
      reconciler,
    });
    expect(await rs.runOnce()).toBe(2);
    await waitFor(async () => rs.activeCount === 0, { what: "executions ended" });
    const runs = await t.db.selectFrom("task_run").select(["status", "result"]).orderBy("id").execute();
    expect(runs.map((r) => r.status)).toEqual(["DONE", "FAILED"]);
    expect(runs[0]!.result).toMatchObject({ alreadyApplied: true });
    // What the lost session left is in the error the drawer shows.
    const message = (runs[1]!.result as { error: { message: string } }).error.message;
    expect(message.endsWith(`; ${leftover}`), message).toBe(true);
  });
});
