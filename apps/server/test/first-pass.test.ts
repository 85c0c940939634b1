import pg from "pg";
import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { PENDING_PASS_LOCK } from "../src/store/gating.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

/**
 * A replica's first pass is full, unless another replica's full pass began since it started: replicas
 * started together (a deploy, a scale-out) each ran a full pass, one after another under the lock, with
 * nothing promoted meanwhile (~1 s each at 20,000 pending runs, ~15 s at 1M; issue 19).
 */
/** Two versions on one database: a full pass promotes the first. */
async function seedTwoVersions(): Promise<void> {
  const { projectId, instanceId } = await seedProject(t.db);
  await seedRollout(t.db, projectId, [task(instanceId, "a", { schemaVersion: "0001" }), task(instanceId, "a", { schemaVersion: "0002" })]);
}

describe("a replica's first pass", () => {
  it("is live when another replica's full pass began after this one started, full otherwise", async () => {
    await seedTwoVersions();
    // One clock for all, moved by hand: the control database's time as every replica reads it.
    let now = new Date("2026-12-04T10:00:00Z");
    const clock = { now: () => now };
    const replica = (id: string) => new PendingScheduler({ db: t.db, clock, replicaId: id, fullPassIntervalMs: 3_600_000 });

    // r2 starts and tries to pass while something else holds the lock; it stays due for a full pass.
    const holder = new pg.Client({ connectionString: t.url });
    await holder.connect();
    const r2 = replica("r2");
    try {
      await holder.query(`SELECT pg_advisory_lock(${PENDING_PASS_LOCK})`);
      expect(await r2.runOnce()).toBeNull();
    } finally {
      await holder.end();
    }

    now = new Date(now.getTime() + 1000);
    const r1 = replica("r1");
    expect(await r1.runOnce()).toMatchObject({ kind: "full", promoted: 1 });
    // r1's full pass began after r2 started and read every PENDING run: r2's first pass need not repeat it.
    now = new Date(now.getTime() + 1000);
    expect(await r2.runOnce()).toMatchObject({ kind: "live" });

    // r3 starts after that full pass: what ran before it is not known to have read everything it would.
    now = new Date(now.getTime() + 1000);
    const r3 = replica("r3");
    expect(await r3.runOnce()).toMatchObject({ kind: "full" });
    // Once per replica: r3's next pass is live again.
    now = new Date(now.getTime() + 1000);
    expect(await r3.runOnce()).toMatchObject({ kind: "live" });
  });

  it("counts from the replica's registration, not from its pending loop's first pass", async () => {
    await seedTwoVersions();
    let now = new Date("2026-12-04T10:00:00Z");
    const clock = { now: () => now };
    const replica = (id: string, startedAt?: Date) =>
      new PendingScheduler({ db: t.db, clock, replicaId: id, fullPassIntervalMs: 3_600_000, startedAt: () => startedAt });

    // r2 registered first; its pending loop starts only after r1's full pass (the loops start one after another).
    const r2 = replica("r2", now);
    now = new Date(now.getTime() + 1000);
    expect(await replica("r1", now).runOnce()).toMatchObject({ kind: "full", promoted: 1 });
    now = new Date(now.getTime() + 1000);
    expect(await r2.runOnce()).toMatchObject({ kind: "live" });

    // r3 registered after that full pass began: its first pass is full.
    now = new Date(now.getTime() + 1000);
    expect(await replica("r3", now).runOnce()).toMatchObject({ kind: "full" });
    // Before it registered (no time yet), the first pass's start stands in, as without a registration.
    now = new Date(now.getTime() + 1000);
    expect(await replica("r4").runOnce()).toMatchObject({ kind: "full" });
  });

  it("a first pass that failed is still due: the next one is full", async () => {
    let now = new Date("2026-12-04T10:00:00Z");
    let fail = true;
    const r = new PendingScheduler({
      db: t.db,
      clock: {
        now: () => {
          if (fail) throw new Error("clock unavailable");
          return now;
        },
      },
      replicaId: "r1",
      fullPassIntervalMs: 3_600_000,
    });
    await expect(r.runOnce()).rejects.toThrow("clock unavailable");
    fail = false;
    now = new Date(now.getTime() + 1000);
    expect(await r.runOnce()).toMatchObject({ kind: "full" });
  });
});
