import { sql } from "kysely";
import { PendingScheduler, type PassResult } from "../../src/scheduler/pending-scheduler.js";
import { createDb, createPool, type Db } from "../../src/store/db.js";
import { waitFor } from "./db.js";

/**
 * Deletes every change mark. Full passes need none; left in place, the second of two overlapping passes would
 * wait on the first one's taking them (and then see its outcome) instead of deciding alongside it.
 */
export async function dropChangeMarks(db: Db): Promise<void> {
  for (const table of [
    "gating_dirty_run",
    "gating_dirty_rollout",
    "gating_dirty_task",
    "gating_dirty_database",
    "gating_dirty_batch",
  ] as const)
    await db.deleteFrom(table).execute();
}

/**
 * Full passes of two replicas whose pass lock lets both in, overlapping: a session holds gating_state's row,
 * which every pass updates last, until both wait on a lock, so each decides and writes (the second waiting on
 * the first's rows) before either commits. Each replica has its own pool, room for its FULL_PASS_READERS
 * readers. Resolves with both passes' results; a pass that fails rejects it.
 */
export async function overlappingFullPasses(url: string, db: Db, clock: { now: () => Date }): Promise<(PassResult | null)[]> {
  const pools = [createPool(url, 1), createPool(url, 3), createPool(url, 3)];
  try {
    const [holder, ...replicas] = pools.map((p) => createDb(p)) as [Db, ...Db[]];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const hold = holder.transaction().execute(async (trx) => {
      await sql`SELECT 1 FROM gating_state WHERE id = 1 FOR UPDATE`.execute(trx);
      holding();
      await released;
    });
    await held;
    const passes = replicas.map((r, i) =>
      new PendingScheduler({ db: r, clock, replicaId: `rep-${i}`, fullPassIntervalMs: 1e9, lock: () => sql`true` }).runOnce({ full: true }),
    );
    // Settled here; awaited below, after the holder lets them go.
    for (const p of passes) p.catch(() => {});
    await waitFor(
      async () => {
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db);
        return rows[0]!.n >= 2;
      },
      { what: "both passes waiting", timeoutMs: 30_000 },
    );
    release();
    await hold;
    return await Promise.all(passes);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}
