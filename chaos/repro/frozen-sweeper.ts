/**
 * Reproduction (not part of the test command) of what the chaos harness found with SIGSTOP: a replica
 * frozen inside its sweep transaction keeps the sweep advisory lock, so no other replica can recover
 * expired leases — its own runs included — until it resumes. Invariant 7 (recovery within lease TTL +
 * sweep interval + 2 s) then fails for as long as the freeze lasts.
 *
 * The frozen replica is simulated by a session that took the sweep lock in an open transaction and does
 * nothing more (what a SIGSTOPped process's connection looks like to PostgreSQL: idle in transaction).
 * The second part shows a mitigation: with idle_in_transaction_session_timeout set on the sweep
 * transaction, PostgreSQL ends the stalled session and recovery goes on.
 *
 *   pnpm --filter @runway/chaos exec tsx repro/frozen-sweeper.ts   # exits 1 while the bug is there
 */
import pg from "pg";
import { startBenchPg } from "../../bench/lib/pg.js";
import { createDb, createPool, SWEEP_LOCK, taskRunsClaim } from "@runway/server/store";
import { PendingScheduler, Sweeper, systemClock } from "@runway/server/scheduler";
import { PostgresExecutor } from "@runway/server/executors";
import { seedProject, seedRollout, task } from "../../apps/server/test/helpers/fixtures.js";
import { waitFor } from "../src/wait.js";

const server = await startBenchPg();
const url = await server.freshDatabase("runway_repro_sweep");
const pool = createPool(url, 4);
const db = createDb(pool);
const stalled: pg.Client[] = [];

/** Claims one fresh run as replica "frozen" with a 300 ms lease and waits until the lease has expired. */
async function expiredRun(n: number): Promise<string> {
  const { instanceId, projectId } = await seedProject(db, { id: `p${n}` });
  await seedRollout(db, projectId, [task(instanceId, `d${n}`)]);
  await new PendingScheduler({ db, clock: systemClock, replicaId: "a", fullPassIntervalMs: 300_000 }).runOnce({ full: true });
  const [run] = await taskRunsClaim(db, { replicaId: "frozen", limit: 1, leaseTtlMs: 300, now: new Date() });
  await waitFor(
    "the lease to expire",
    5000,
    async () => (await pool.query("SELECT lease_expires_at < now() AS x FROM task_run WHERE id = $1", [run!.id])).rows[0].x === true,
  );
  return run!.id;
}

/** A session that takes the sweep lock in a transaction and then stalls (the frozen replica). */
async function frozenSweeper(idleTimeout?: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => undefined); // the server may end it (that is the mitigation)
  await c.connect();
  if (idleTimeout) await c.query(`SET idle_in_transaction_session_timeout = '${idleTimeout}'`);
  await c.query("BEGIN");
  await c.query("SELECT pg_try_advisory_xact_lock($1)", [SWEEP_LOCK]);
  stalled.push(c);
}

/** Runs another replica's sweeper every 200 ms for up to `ms`; returns when the run left RUNNING. */
async function recoveredWithin(runId: string, ms: number): Promise<number | null> {
  const sweeper = new Sweeper({ db, clock: systemClock, replicaId: "b", reconciler: new PostgresExecutor({ statementTimeoutMs: 60_000 }) });
  const t0 = Date.now();
  try {
    await waitFor("recovery", ms, async () => {
      await sweeper.runOnce();
      return (await pool.query("SELECT status FROM task_run WHERE id = $1", [runId])).rows[0].status !== "RUNNING";
    });
    return Date.now() - t0;
  } catch {
    return null;
  }
}

let exit = 0;
try {
  const a = await expiredRun(1);
  await frozenSweeper();
  const t = await recoveredWithin(a, 4000);
  if (t === null) {
    exit = 1;
    console.log("BUG: while a frozen replica holds the sweep lock, an expired run is not recovered (waited 4 s; it stays RUNNING)");
  } else {
    console.log(`ok: recovered in ${t} ms despite the frozen sweeper`);
  }
  await stalled.pop()!.query("ROLLBACK");
  await recoveredWithin(a, 4000);

  const b = await expiredRun(2);
  await frozenSweeper("1s");
  const t2 = await recoveredWithin(b, 6000);
  console.log(
    t2 === null
      ? "mitigation did not help"
      : `mitigation: with idle_in_transaction_session_timeout = 1s on the sweep transaction, recovered after ${t2} ms`,
  );
} finally {
  for (const c of stalled) await c.end().catch(() => undefined);
  await db.destroy();
  await server.stop();
}
process.exit(exit);
