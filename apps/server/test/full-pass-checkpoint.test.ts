import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { PENDING_PASS_LOCK } from "../src/store/gating.js";
import type { Db } from "../src/store/db.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { afterEvery, afterStatement } from "./helpers/statement-hook.js";

/**
 * Issue 19: a full pass commits each batch's promotions as it goes (gatingPassCheckpoint), under one lock, so
 * the runs it promoted start while it decides the rest.
 */
const t = useTestDatabase();

/** Six databases, each two versions; the first versions come first, so each batch of two promotes two until they run out. */
async function seedSixChains() {
  const { projectId, instanceId } = await seedProject(t.db);
  const dbs = ["d0", "d1", "d2", "d3", "d4", "d5"];
  return seedRollout(t.db, projectId, [
    ...dbs.map((d) => task(instanceId, d, { schemaVersion: "0001" })),
    ...dbs.map((d) => task(instanceId, d, { schemaVersion: "0002" })),
  ]);
}

const scheduler = (replicaId: string, extra: Partial<ConstructorParameters<typeof PendingScheduler>[0]> = {}) =>
  new PendingScheduler({
    db: t.db,
    clock: { now: () => new Date() },
    replicaId,
    fullPassIntervalMs: 1e12,
    fullPassBatchSize: 2,
    fullPassReaders: 2,
    ...extra,
  });

const countByStatus = async (db: Db) =>
  Object.fromEntries(
    (
      await db
        .selectFrom("task_run")
        .select(["status", (eb) => eb.fn.countAll<string>().as("n")])
        .groupBy("status")
        .execute()
    ).map((r) => [r.status, Number(r.n)]),
  );
const requested = async () =>
  (await t.db.selectFrom("gating_state").select("full_pass_requested").executeTakeFirstOrThrow()).full_pass_requested;
/** Sessions holding this database's pass lock, at either level (other test files' databases share the cluster). */
const lockHolders = async () =>
  Number(
    (
      await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = 0 AND objid = ${PENDING_PASS_LOCK} AND granted`.execute(
        t.db,
      )
    ).rows[0]!.n,
  );

describe("a full pass's checkpoints", () => {
  it("come early: the first batch is small, and each batch after it doubles up to the batch size", async () => {
    await seedSixChains();
    const fetched: number[] = [];
    const available: number[] = [];
    const hooked = t.db.withPlugin(
      afterEvery(/FETCH FORWARD|pg_advisory_unlock/, async (json) => {
        const n = /FETCH FORWARD .*?"value":(\d+)/.exec(json);
        if (n) fetched.push(Number(n[1]));
        else available.push((await countByStatus(t.db)).AVAILABLE ?? 0);
      }),
    );
    // Batches of 1, 2, 4, 4 and the last 1: the six first versions come first (each promoted), then the second ones.
    const result = await scheduler("p", { db: hooked, fullPassBatchSize: 4, fullPassFirstBatchSize: 1 }).runOnce({ full: true });
    expect(result).toMatchObject({ kind: "full", candidates: 12, promoted: 6, causesWritten: 6 });
    // A checkpoint after each batch that promoted runs, while more may follow: the first one run alone.
    expect(available).toEqual([1, 3, 6]);
    // Each of the two readers asks for as many rows as the batch it reads for, never more than the batch size.
    expect(fetched.slice(0, 2)).toEqual([1, 1]);
    expect(Math.max(...fetched)).toBe(4);
    expect(fetched.every((n, i) => i < 2 || n >= fetched[i - 2]!)).toBe(true);
    expect(await countByStatus(t.db)).toEqual({ AVAILABLE: 6, PENDING: 6 });
    expect(await lockHolders()).toBe(0);
  });

  it("commit a batch's promotions while the pass goes on, and no other pass gets in meanwhile", async () => {
    await seedSixChains();
    let seen: { statuses: Record<string, number>; requested: boolean; other: unknown; holders: number } | undefined;
    const hook = afterStatement(/pg_advisory_unlock/, async () => {
      seen = {
        // Another session sees the first batch's promotions committed, the flag a pass that dies here leaves ...
        statuses: await countByStatus(t.db),
        requested: await requested(),
        // ... and another replica's pass finds the lock taken.
        other: await scheduler("q").runOnce({ full: true }),
        holders: await lockHolders(),
      };
    });
    const result = await scheduler("p", { db: t.db.withPlugin(hook) }).runOnce({ full: true });
    expect(seen).toEqual({ statuses: { AVAILABLE: 2, PENDING: 10 }, requested: true, other: null, holders: 1 });
    expect(result).toMatchObject({ kind: "full", candidates: 12, promoted: 6, causesWritten: 6 });
    expect(await countByStatus(t.db)).toEqual({ AVAILABLE: 6, PENDING: 6 });
    // The pass's last statement cleared the flag, and nothing holds the lock once it committed.
    expect(await requested()).toBe(false);
    expect(await lockHolders()).toBe(0);
  });

  it("a pass that fails after one leaves its promotions and makes the next pass, of any replica, full", async () => {
    await seedSixChains();
    // A replica whose first-pass rule does not apply: only the flag can make its next pass full.
    await t.db.updateTable("gating_state").set({ last_full_pass_at: new Date() }).execute();
    const other = scheduler("q", { startedAt: () => new Date(0) });
    const hook = afterStatement(/pg_advisory_unlock/, () => Promise.reject(new Error("the replica died")));
    await expect(scheduler("p", { db: t.db.withPlugin(hook) }).runOnce({ full: true })).rejects.toThrow("the replica died");
    expect(await countByStatus(t.db)).toEqual({ AVAILABLE: 2, PENDING: 10 });
    expect(await requested()).toBe(true);
    expect(await lockHolders()).toBe(0);
    // The runs read after the checkpoint lost their marks with the first transaction: the full pass decides them.
    expect(await other.runOnce()).toMatchObject({ kind: "full", candidates: 10, promoted: 4, causesWritten: 6 });
    expect(await requested()).toBe(false);
  });

  it("are not taken under an injected lock, which the pass could not hold across a commit", async () => {
    await seedSixChains();
    let checkpoints = 0;
    const hook = afterStatement(/pg_advisory_unlock/, async () => {
      checkpoints++;
    });
    const s = scheduler("p", { db: t.db.withPlugin(hook), lock: (key) => sql`pg_try_advisory_xact_lock(${key})` });
    expect(await s.runOnce({ full: true })).toMatchObject({ candidates: 12, promoted: 6 });
    expect(checkpoints).toBe(0);
  });
});
