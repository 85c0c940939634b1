import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunRelease, taskRunsClaim } from "../src/store/runs.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * The claim takes AVAILABLE runs in queue order (when each became AVAILABLE, or started if it was given back
 * after it had started; then by id), not by id alone. By id, a rollout created earlier went ahead of every later
 * one each time a pass promoted its next change, so a later rollout's runs waited until the earlier one had
 * nothing AVAILABLE left, and a drain of many chains ended with the last rollout's chains running one link at a
 * time (issue 19, docs/benchmarks.md §8).
 */
const t = useTestDatabase();

async function passUntilSettled(at: () => Date): Promise<void> {
  const s = new PendingScheduler({ db: t.db, clock: { now: at }, replicaId: "p", fullPassIntervalMs: 1e12 });
  while ((await s.runOnce())?.more);
}

const statusOf = async (runId: string) =>
  (await t.db.selectFrom("task_run").select("status").where("id", "=", runId).executeTakeFirstOrThrow()).status;
const runOf = async (taskId: string) =>
  (await t.db.selectFrom("task_run").select("id").where("task_id", "=", taskId).executeTakeFirstOrThrow()).id;
const claimOne = async (now: Date) => (await taskRunsClaim(t.db, { replicaId: "w", limit: 1, leaseTtlMs: 60_000, now }))[0]!;

describe("the claim's order", () => {
  it("takes a run that became AVAILABLE earlier before an older rollout's run promoted after it", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    // An earlier rollout: two versioned changes on x, one after the other. A later rollout: one change on z.
    const early = await seedRollout(t.db, projectId, [
      task(instanceId, "x", { schemaVersion: "0001" }),
      task(instanceId, "x", { schemaVersion: "0002" }),
    ]);
    const late = await seedRollout(t.db, projectId, [task(instanceId, "z", { schemaVersion: "0001" })]);
    const [x1, x2, z1] = [await runOf(early.taskIds[0]!), await runOf(early.taskIds[1]!), await runOf(late.taskIds[0]!)];
    expect(Number(x2)).toBeLessThan(Number(z1));

    const t0 = Date.now();
    await passUntilSettled(() => new Date(t0 + 1_000));
    expect([await statusOf(x1), await statusOf(x2), await statusOf(z1)]).toEqual(["AVAILABLE", "PENDING", "AVAILABLE"]);

    // Promoted in the same pass: the lower id goes first.
    const first = await claimOne(new Date(t0 + 2_000));
    expect(first.id).toBe(x1);
    expect(
      await taskRunFinish(t.db, {
        runId: x1,
        replicaId: "w",
        epoch: first.epoch,
        status: "DONE",
        result: {},
        message: "",
        now: new Date(t0 + 3_000),
      }),
    ).toBe(true);

    // x's next change becomes AVAILABLE after z's run did: z's run goes first though its id is higher.
    await passUntilSettled(() => new Date(t0 + 4_000));
    expect(await statusOf(x2)).toBe("AVAILABLE");
    expect((await claimOne(new Date(t0 + 5_000))).id).toBe(z1);
    expect((await claimOne(new Date(t0 + 6_000))).id).toBe(x2);
  });

  it("queues a run given back after it started by when it started: behind the runs queued before, ahead of those queued since", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const early = await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    const t0 = Date.now();
    await passUntilSettled(() => new Date(t0 + 1_000));
    const [a, b] = [await runOf(early.taskIds[0]!), await runOf(early.taskIds[1]!)];
    const first = await claimOne(new Date(t0 + 2_000));
    expect(first.id).toBe(a);
    // A run queued after a started.
    const late = await seedRollout(t.db, projectId, [task(instanceId, "c")]);
    await passUntilSettled(() => new Date(t0 + 3_000));
    const c = await runOf(late.taskIds[0]!);
    // a's replica gives it back (a drain): AVAILABLE again, stamped now, queued by when it started.
    expect(
      await taskRunRelease(t.db, { runId: a, replicaId: "w", epoch: first.epoch, now: new Date(t0 + 4_000), reason: "draining" }),
    ).toBe(true);
    expect(await statusOf(a)).toBe("AVAILABLE");
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await claimOne(new Date(t0 + 5_000 + i))).id);
    expect(order).toEqual([b, a, c]);
  });
});
