import { describe, expect, it } from "vitest";
import type { ExecOutcome, Executor } from "../src/executors/types.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { taskRunAutoRetry, taskRunsClaim, type ClaimedRun } from "../src/store/runs.js";
import { retryPolicyUpdate } from "../src/store/retry-policy.js";
import { taskRunGet, taskRunLogs } from "../src/store/task-reads.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * Issue 13, automatic retries, scheduler side: a transactional run failing with 55P03, 40P01 or 40001 goes
 * back to PENDING with RETRY_BACKOFF {until, attempt, max} (the control database's clock), is promoted
 * again once the backoff ended, and FAILs once the project's limit is used up. Other errors, and
 * non-transactional runs, FAIL at once.
 */
const t = useTestDatabase();

/** Fails every execution with the given SQLSTATE (as the PostgreSQL executor reports a server error). */
class FailingExecutor implements Executor {
  readonly seen: ClaimedRun[] = [];
  constructor(private readonly code: string) {}
  async execute(run: ClaimedRun): Promise<ExecOutcome> {
    this.seen.push(run);
    const message = `server said ${this.code}`;
    return { status: "FAILED", message, result: { error: { message, code: this.code } } };
  }
}

function schedulers(exec: Executor, clock: { now: () => Date }) {
  const pending = new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e12 });
  const rs = new RunningScheduler({ db: t.db, clock, replicaId: "r", concurrency: 4, leaseTtlMs: 60_000, executorFor: () => exec });
  const attempt = async (expected = 1) => {
    expect(await pending.runOnce()).toMatchObject({ promoted: expected });
    expect(await rs.runOnce()).toBe(expected);
    await waitFor(async () => rs.activeCount === 0, { what: "executions ended" });
    await pending.runOnce(); // records the causes
  };
  return { pending, attempt };
}

const runOf = async (taskId: string) =>
  (await taskRunGet(t.db, (await t.db.selectFrom("task_run").select("id").where("task_id", "=", taskId).executeTakeFirstOrThrow()).id))!;

describe("automatic retry of lock and serialization failures", () => {
  it("retries a lock timeout after the backoff with RETRY_BACKOFF, logs 'automatic retry n of max', and FAILs past the limit", async () => {
    let now = new Date("2030-01-01T00:00:00Z");
    const clock = { now: () => now };
    const { projectId, instanceId } = await seedProject(t.db);
    await retryPolicyUpdate(t.db, {
      projectId,
      patch: { lockTimeoutMs: 250, maxAutoRetries: 2, backoffBaseMs: 1000, backoffMaxMs: 1500 },
      actor: "test",
      now,
    });
    const { taskIds } = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "ALTER TABLE t ADD COLUMN x int" })]);
    const exec = new FailingExecutor("55P03");
    const { pending, attempt } = schedulers(exec, clock);

    const t0 = now;
    await attempt();
    // The executor was given the project's settings with the claimed run.
    expect(exec.seen[0]).toMatchObject({ autoRetries: 0, retryPolicy: { lockTimeoutMs: 250, maxAutoRetries: 2 } });
    const first = await runOf(taskIds[0]!);
    expect(first).toMatchObject({
      status: "PENDING",
      autoRetry: { attempt: 1, max: 2 },
      waitingCause: { type: "RETRY_BACKOFF", until: new Date(t0.getTime() + 1000).toISOString(), attempt: 1, max: 2 },
      result: { error: { code: "55P03" } },
    });
    const logs = (await taskRunLogs(t.db, { taskRunId: first.id, limit: 100, afterId: null })).entries;
    expect(logs.at(-1)!.message).toMatch(/^lock timeout \(55P03\): automatic retry 1 of 2 at /);
    // Not before the backoff ended (the control database's clock).
    now = new Date(t0.getTime() + 999);
    expect(await pending.runOnce()).toMatchObject({ promoted: 0 });

    now = new Date(t0.getTime() + 1000);
    await attempt();
    expect(exec.seen[1]).toMatchObject({ autoRetries: 1 });
    // Doubling, capped at backoffMaxMs.
    expect(await runOf(taskIds[0]!)).toMatchObject({
      status: "PENDING",
      autoRetry: { attempt: 2, max: 2 },
      waitingCause: { type: "RETRY_BACKOFF", until: new Date(now.getTime() + 1500).toISOString(), attempt: 2, max: 2 },
    });

    now = new Date(now.getTime() + 1500);
    await attempt();
    const failed = await runOf(taskIds[0]!);
    expect(failed.status).toBe("FAILED");
    const last = (await taskRunLogs(t.db, { taskRunId: failed.id, limit: 100, afterId: null })).entries.at(-1)!;
    expect(last.message).toBe("server said 55P03 (lock timeout; automatic retries used up (2 of 2))");
    expect(exec.seen).toHaveLength(3);
  });

  it.each(["40P01", "40001"])("retries %s (deadlock, serialization failure) with the default settings", async (code) => {
    const now = new Date("2030-01-01T00:00:00Z");
    const { projectId, instanceId } = await seedProject(t.db);
    const { taskIds } = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "UPDATE t SET x = 1" })]);
    const { attempt } = schedulers(new FailingExecutor(code), { now: () => now });
    await attempt();
    expect(await runOf(taskIds[0]!)).toMatchObject({
      status: "PENDING",
      waitingCause: { type: "RETRY_BACKOFF", until: new Date(now.getTime() + 1000).toISOString(), attempt: 1, max: 3 },
    });
  });

  it("fails other errors, non-transactional runs, and everything when maxAutoRetries is 0", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const { projectId, instanceId } = await seedProject(t.db);
    await seedProject(t.db, { id: "p2" });
    await retryPolicyUpdate(t.db, { projectId: "p2", patch: { maxAutoRetries: 0 }, actor: "test", now });
    const a = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "CREATE INDEX CONCURRENTLY i ON t (x)" })]);
    const b = await seedRollout(t.db, "p2", [task("i-p2", "b", { statement: "UPDATE t SET x = 1" })]);
    const { attempt } = schedulers(new FailingExecutor("55P03"), { now: () => now });
    await attempt(2);
    expect(await runOf(a.taskIds[0]!)).toMatchObject({ status: "FAILED", result: { error: { code: "55P03" } } });
    expect((await runOf(a.taskIds[0]!)).autoRetry).toBeUndefined();
    expect(await runOf(b.taskIds[0]!)).toMatchObject({ status: "FAILED" });

    const c = await seedRollout(t.db, projectId, [task(instanceId, "c", { statement: "UPDATE t SET x = 1" })]);
    const other = schedulers(new FailingExecutor("23505"), { now: () => now });
    await other.attempt();
    expect(await runOf(c.taskIds[0]!)).toMatchObject({ status: "FAILED", result: { error: { code: "23505" } } });
  });

  it("the failure-to-retry step is a compare-and-set: a stale owner, a second write of the same failure, or a cancel change nothing twice", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const { projectId, instanceId } = await seedProject(t.db);
    const { taskIds } = await seedRollout(t.db, projectId, [task(instanceId, "a", { statement: "UPDATE t SET x = 1" })]);
    await new PendingScheduler({ db: t.db, clock: { now: () => now }, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
    const [run] = await taskRunsClaim(t.db, { replicaId: "r", limit: 1, leaseTtlMs: 60_000, now });
    const step = { runId: run!.id, replicaId: "r", epoch: run!.epoch, now, until: new Date(now.getTime() + 1000), attempt: 1, max: 3 };
    const write = (p: Partial<typeof step> = {}) => taskRunAutoRetry(t.db, { ...step, reason: "lock timeout", result: {}, ...p });
    // Two writers at once (a retried write after a lost reply, or two replicas that both think they own it): one wins.
    const results = await Promise.all([write(), write(), write({ replicaId: "zombie" }), write({ epoch: run!.epoch - 1 })]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await runOf(taskIds[0]!)).toMatchObject({ status: "PENDING", autoRetry: { attempt: 1, max: 3 } });
    // Promoted once the backoff ended and claimed again: only the next retry count is accepted.
    await new PendingScheduler({ db: t.db, clock: { now: () => step.until }, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
    const [again] = await taskRunsClaim(t.db, { replicaId: "r", limit: 1, leaseTtlMs: 60_000, now: step.until });
    expect(again).toMatchObject({ id: run!.id, autoRetries: 1 });
    expect(await write({ epoch: again!.epoch, attempt: 1 })).toBe(false);
    await t.db.updateTable("task_run").set({ cancel_requested_at: now }).where("id", "=", run!.id).execute();
    expect(await write({ epoch: again!.epoch, attempt: 2 })).toBe(true);
    // A cancel recorded meanwhile wins: CANCELED, not another wait.
    expect(await runOf(taskIds[0]!)).toMatchObject({ status: "CANCELED" });
    const statuses = await t.db.selectFrom("task_run_log").select("payload").where("task_run_id", "=", run!.id).execute();
    expect(statuses.filter((l) => (l.payload as { by?: string }).by === "owner")).toHaveLength(2);
  });
});
