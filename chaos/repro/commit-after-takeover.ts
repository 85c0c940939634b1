/**
 * Reproduction (not part of the test command) of the fencing violation the long chaos run found in a
 * normal build: the executor checks ownership (`stillOwner`, a lease renewal in the control database) and
 * then COMMITs on the target. A replica that pauses between the two (SIGSTOP, a GC or VM stall) longer
 * than its lease commits after the sweeper gave the run away. Here the pause is a promise the script
 * resolves; everything else is the real store, sweeper and executor.
 *
 * Part 1: the run was canceled meanwhile. The sweeper ends it CANCELED, and the zombie's change lands
 * anyway: CANCELED, yet applied. Part 2 shows a target-side fence. Before applying, a new owner ends
 * the target sessions of older epochs of the same run; their application_name already names run and
 * epoch. The zombie's COMMIT then fails and nothing of it lands.
 *
 *   pnpm --filter @runway/chaos exec tsx repro/commit-after-takeover.ts   # exits 1 while the bug is there
 */
import pg from "pg";
import { startBenchPg } from "../../bench/lib/pg.js";
import { withDatabase } from "@runway/server/db";
import { type ClaimedRun, createDb, createPool, taskRunsCancel, taskRunsClaim, taskRunsRenewLeases } from "@runway/server/store";
import { PostgresExecutor } from "@runway/server/executors";
import { PendingScheduler, Sweeper, systemClock } from "@runway/server/scheduler";
import { seedProject, seedRollout, task } from "../../apps/server/test/helpers/fixtures.js";
import { waitFor } from "../src/wait.js";

const server = await startBenchPg();
const url = await server.freshDatabase("runway_repro_fence");
const db = createDb(createPool(url, 4));
const admin = new pg.Client({ connectionString: server.serverUrl });
await admin.connect();
await admin.query("DROP DATABASE IF EXISTS repro_target WITH (FORCE)");
await admin.query("CREATE DATABASE repro_target");
const target = new pg.Client({ connectionString: withDatabase(server.serverUrl, "repro_target") });
await target.connect();
await target.query("CREATE TABLE t (part integer)");
const executor = new PostgresExecutor({ statementTimeoutMs: 0 });
const { instanceId, projectId } = await seedProject(db, { instanceUrl: server.serverUrl });

/** A zombie: claims the run, applies it, passes the ownership check, then pauses before COMMIT. */
async function zombieRun(part: number) {
  const { rolloutId } = await seedRollout(db, projectId, [
    task(instanceId, "repro_target", { statement: `INSERT INTO t VALUES (${part})` }),
  ]);
  await new PendingScheduler({ db, clock: systemClock, replicaId: "a", fullPassIntervalMs: 300_000 }).runOnce({ full: true });
  const [run] = await taskRunsClaim(db, { replicaId: "zombie", limit: 1, leaseTtlMs: 300, now: new Date() });
  let checked!: () => void;
  let resume!: () => void;
  const isChecked = new Promise<void>((r) => (checked = r));
  const paused = new Promise<void>((r) => (resume = r));
  const outcome = executor.execute(run!, {
    signal: new AbortController().signal,
    replicaId: "zombie",
    log: async () => undefined,
    stillOwner: async () => {
      const owned = (
        await taskRunsRenewLeases(db, {
          replicaId: "zombie",
          runs: [{ runId: run!.id, epoch: run!.epoch }],
          leaseTtlMs: 300,
          now: new Date(),
        })
      ).get(run!.id)!.owned;
      checked();
      await paused; // the process stops here, between the check and COMMIT
      return owned;
    },
  });
  await isChecked;
  await waitFor(
    "the zombie's lease to expire",
    5000,
    async () =>
      (await db.selectFrom("task_run").select("lease_expires_at").where("id", "=", run!.id).executeTakeFirstOrThrow()).lease_expires_at! <
      new Date(),
  );
  return { run: run!, rolloutId, outcome, resume };
}

const applied = async (part: number) => Number((await target.query("SELECT count(*) AS n FROM t WHERE part = $1", [part])).rows[0].n);
const statusOf = async (runId: string) =>
  (await db.selectFrom("task_run").select("status").where("id", "=", runId).executeTakeFirstOrThrow()).status;
let exit = 0;
try {
  // Part 1: canceled while the owner is paused; the sweeper ends it CANCELED; the zombie commits anyway.
  const z1 = await zombieRun(1);
  await taskRunsCancel(db, { rolloutId: z1.rolloutId, taskRunIds: [z1.run.id], actor: "repro", now: new Date(), replicaId: "b" });
  await new Sweeper({ db, clock: systemClock, replicaId: "b", reconciler: executor }).runOnce();
  const swept = await statusOf(z1.run.id);
  z1.resume();
  const o1 = await z1.outcome;
  console.log(
    `part 1: run ${z1.run.id} is ${swept} (taken over by the sweeper); the paused owner then finished with ${o1.status}; rows applied: ${await applied(1)}`,
  );
  if (swept === "CANCELED" && (await applied(1)) > 0) {
    exit = 1;
    console.log("BUG: the run is CANCELED, yet the replica that had lost it committed its change on the target");
  }

  // Part 2: the mitigation. The new owner (epoch 2) ends older epochs' target sessions of this run first.
  const z2 = await zombieRun(2);
  await new Sweeper({ db, clock: systemClock, replicaId: "b", reconciler: executor }).runOnce();
  const [again] = await taskRunsClaim(db, { replicaId: "b", limit: 1, leaseTtlMs: 30_000, now: new Date() });
  await target.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = current_database() AND application_name LIKE $1 AND split_part(application_name, ' ', 7)::int < $2`,
    [`runway run ${again!.id} in % epoch %`, again!.epoch],
  );
  z2.resume();
  const o2 = await z2.outcome;
  const o3 = await executor.execute(again as ClaimedRun, {
    signal: new AbortController().signal,
    replicaId: "b",
    log: async () => undefined,
    stillOwner: async () => true,
  });
  console.log(
    `part 2 (fence on the target): the zombie ended ${o2.status} (${o2.message.slice(0, 60)}), the new owner ${o3.status} (${o3.message.slice(0, 40)}); rows applied: ${await applied(2)}`,
  );
} finally {
  await target.end();
  await admin.end();
  await db.destroy();
  await server.stop();
}
process.exit(exit);
