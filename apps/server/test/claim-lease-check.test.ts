import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { leaseOwnership, type Ownership } from "../src/scheduler/ownership.js";
import type { ExecContext, ExecOutcome, Executor } from "../src/executors/types.js";
import { taskRunsClaim, type ClaimedRun } from "../src/store/runs.js";
import { tasksRunAndClaim } from "../src/store/task-actions.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { TaskType } from "@runway/shared";

const t = useTestDatabase();
const clock = { now: () => new Date() };

/** Commits (DONE) as the PostgreSQL executor does: once the lease check it sent with its statement says so. */
class ConfirmingExecutor implements Executor {
  async execute(_run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    const confirm = ctx.ownerCheckAhead!();
    return (await confirm())
      ? { status: "DONE", result: {}, message: "committed" }
      : { status: "RETRY", result: { error: { message: "lease lost" } }, message: "lease lost before commit" };
  }
}

/** leaseOwnership, counting the lease checks' answers it is asked to judge. */
function countingOwnership(): Ownership & { asked: number } {
  const o = { fence: leaseOwnership.fence, asked: 0, owns: (c: "owned" | "lost") => (o.asked++, leaseOwnership.owns(c)) };
  return o;
}

async function seeded(n: number): Promise<void> {
  const { projectId, instanceId } = await seedProject(t.db);
  await seedRollout(
    t.db,
    projectId,
    Array.from({ length: n }, (_, i) => task(instanceId, `db${i}`)),
  );
  await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
}

/** One replica with one executor slot, whose lease checks `ownership` judges. */
const replica = (ownership: Ownership) =>
  new RunningScheduler({
    db: t.db,
    clock,
    replicaId: "r",
    concurrency: 1,
    leaseTtlMs: 60_000,
    ownership,
    executorFor: () => new ConfirmingExecutor(),
  });

const done = async () => (await t.db.selectFrom("task_run").select("status").execute()).filter((r) => r.status === "DONE").length;

describe("a run's own claim stands for its first lease check (ExecContext.ownerCheckAhead, claimedAt)", () => {
  it("runs the replica's own claims brought (runOnce's, the finishes') commit without a lease check of their own", async () => {
    await seeded(3);
    const ownership = countingOwnership();
    // One slot: the first run comes from runOnce's claim, the others from the finish statements' claims.
    const rs = replica(ownership);
    expect(await rs.runOnce()).toBe(1);
    await waitFor(async () => (await done()) === 3, { timeoutMs: 10_000 });
    expect(ownership.asked).toBe(0);
  });

  it("runs a live pass's promote claimed for the replica commit without a lease check of their own", async () => {
    // A parallel limit: the run is created PENDING, and the live pass promotes it, claiming it into the held slot.
    const { projectId, instanceId } = await seedProject(t.db, { limit: 1 });
    const ownership = countingOwnership();
    const rs = replica(ownership);
    const passes = new PendingScheduler({ db: t.db, clock, replicaId: "r", fullPassIntervalMs: 1e12, claimSlots: () => rs.hold() });
    await passes.runOnce(); // the replica's first pass is full (it claims nothing); the next ones are live
    await seedRollout(t.db, projectId, [task(instanceId, "db0")]);
    expect((await passes.runOnce())?.claimed).toBe(1);
    await waitFor(async () => (await done()) === 1, { timeoutMs: 10_000 });
    expect(ownership.asked).toBe(0);
  });

  it("runs the API's create claimed for the replica commit without a lease check of their own", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(t.db, projectId, [task(instanceId, "db0", { type: TaskType.DATABASE_DATA_UPDATE })], {
      run: false,
    });
    const ownership = countingOwnership();
    const rs = replica(ownership);
    const made = await rs.create((claim) =>
      tasksRunAndClaim(t.db, { rolloutId, taskIds, runAt: null, actor: "test", now: clock.now(), claim }),
    );
    expect(made.claimed).toHaveLength(1);
    await waitFor(async () => (await done()) === 1, { timeoutMs: 10_000 });
    expect(ownership.asked).toBe(0);
  });

  it("runs handed over without the claim's time get the check with their statement", async () => {
    await seeded(1);
    const ownership = countingOwnership();
    const rs = replica(ownership);
    const hold = rs.hold()!;
    try {
      hold.started(await taskRunsClaim(t.db, { ...hold.claim, now: clock.now() }));
    } finally {
      hold.release();
    }
    await waitFor(async () => (await done()) === 1, { timeoutMs: 10_000 });
    expect(ownership.asked).toBe(1);
  });
});
