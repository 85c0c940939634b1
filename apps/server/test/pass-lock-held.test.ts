import { expect, it } from "vitest";
import { PENDING_PASS_LOCK } from "../src/store/gating.js";
import { useTestDatabase, waitFor } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { startRuntime } from "./helpers/runtime.js";

/**
 * A pass that finds the pass lock taken tries again on its own shortly after (scheduler/runtime.ts,
 * PASS_HELD_ELSEWHERE_MS). A holder that is not a pass (a dry-run claim, here a plain transaction) or a
 * replica that died holding the lock will not pass after it, and no other NOTIFY may come: the run must
 * not wait for the poll interval.
 */

const t = useTestDatabase();

it("a run whose pass found the lock held is promoted soon after the lock is free, with no other wake-up", async () => {
  const { projectId, instanceId } = await seedProject(t.db, { id: "held" });
  const held: number[] = [];
  let passes = 0;
  const executor = new DeferredExecutor();
  const rt = await startRuntime({
    db: t.db,
    url: t.url,
    // A poll far beyond the test's bound: only the retry can promote the run in time.
    config: { replicaId: "held-1", pollIntervalMs: 120_000, fullPassIntervalMs: 86_400_000 },
    executorFor: () => executor,
    onPass: () => passes++,
    onLockHeld: () => held.push(Date.now()),
  });
  const holder = await t.pool.connect();
  try {
    await waitFor(async () => passes > 0, { what: "the replica's first pass" });
    await holder.query("BEGIN");
    await holder.query(`SELECT pg_advisory_xact_lock(${PENDING_PASS_LOCK})`);
    // A schema change goes through a pass (it is created PENDING and its NOTIFY wakes the pending loop).
    const { taskIds } = await seedRollout(t.db, projectId, [task(instanceId, "db1", { statement: "CREATE TABLE x (id int)" })]);
    // Tried again and again while the lock is held: not only once per wake-up (the run's creation sends one or two).
    await waitFor(async () => held.length >= 4, { timeoutMs: 5_000, what: "passes retrying while the lock is held" });
    const status = async () =>
      (await t.db.selectFrom("task_run").select("status").where("task_id", "=", taskIds[0]!).executeTakeFirstOrThrow()).status;
    expect(await status()).toBe("PENDING");
    await holder.query("COMMIT");
    const freed = Date.now();
    await waitFor(async () => (await status()) !== "PENDING", { timeoutMs: 10_000, what: "the run promoted after the lock came free" });
    // The retries are spaced (≥ 40 ms apart, not one per wake-up) and the promotion came within seconds, not the poll interval.
    for (let i = 1; i < held.length; i++) expect(held[i]! - held[i - 1]!).toBeGreaterThanOrEqual(40);
    expect(Date.now() - freed).toBeLessThan(10_000);
  } finally {
    await holder.query("ROLLBACK").catch(() => undefined);
    holder.release();
    executor.finishAll();
    await rt.stop(0);
  }
}, 30_000);
