/**
 * Reproduction (not part of the test command): a transaction that holds the row lock of one RUNNING run
 * stops its owner from renewing the lease of every run it owns. The owner renews all its leases in one
 * UPDATE (heartbeat, and the lease check before each target COMMIT), so that UPDATE waits on the one locked
 * row. The cancel API takes exactly such a lock (`taskRunsCancel`: SELECT … FOR UPDATE, then its writes,
 * in one transaction without an idle-in-transaction bound). A replica paused (SIGSTOP, a long GC, a
 * stalled host) inside that transaction holds the lock for as long as it is paused, and the healthy owner
 * of the run loses all its runs: their leases expire, the sweeper takes them away, and its statements
 * waiting for the lease check before COMMIT sit idle on their targets until PostgreSQL ends the session
 * (B5), which fails them.
 *
 * Seen in `pnpm chaos --preset short --seed 3`: r1g1 was frozen for 4.9 s 50 ms after it started a cancel
 * of run 197 (owned by r3g1) for the harness; r3g1's own sweeper then requeued two of its runs ("lease of
 * replica r3g1 expired") and two more FAILED ("terminating connection due to idle-in-transaction timeout",
 * "Client has encountered a connection error and is not queryable") — invariant 1.
 *
 * Here one replica runs two 6 s statements; the harness holds the row lock of the first for 5 s (what the
 * frozen replica's cancel held), longer than the 2 s lease. The second run, which nobody locked, should
 * keep its lease, and both runs should finish once the lock is gone. The second part showed B7: when the
 * owner claimed again a run it had lost, the old execution's cleanup dropped the new one from the runs
 * it renews, so the run cycled RUNNING → AVAILABLE forever. Both fixed in 1699586 (renewal skips locked
 * rows and does not read them as lost; executions are keyed by run and epoch).
 *
 *   pnpm --filter @runway/chaos exec tsx repro/locked-run-blocks-renewal.ts   # exits 1 while the bug is there
 */
import os from "node:os";
import path from "node:path";
import { promises as fs } from "node:fs";
import pg from "pg";
import { startBenchPg } from "../../bench/lib/pg.js";
import { Api } from "../src/api.js";
import { ReplicaSet } from "../src/replicas.js";
import { waitFor } from "../src/wait.js";

const server = await startBenchPg();
const logDir = await fs.mkdtemp(path.join(os.tmpdir(), "runway-repro-renewal-"));
let replicas: ReplicaSet | undefined;
let bug = true;
try {
  const controlUrl = await server.freshDatabase("runway_repro_renewal");
  const targetUrl = await server.targetRoleUrl();
  await server.emptyDatabase("repro_target", new URL(targetUrl).username);
  replicas = new ReplicaSet(
    {
      databaseUrl: controlUrl,
      adminPassword: "repro-admin-password",
      logDir,
      env: {
        LOG_LEVEL: "warn",
        RUNWAY_LEASE_TTL_MS: "2000",
        RUNWAY_HEARTBEAT_INTERVAL_MS: "500",
        RUNWAY_SWEEP_INTERVAL_MS: "400",
        RUNWAY_POLL_INTERVAL_MS: "200",
      },
    },
    [47311],
  );
  await replicas.startAll();
  const api = new Api(replicas);
  await api.signIn("repro-admin-password");
  await api.must("POST", "/projects", { id: "p", title: "p", parallelTasksPerRollout: 0 }, 201);
  await api.must("POST", "/instances", { id: "t", title: "target", connectionUrl: targetUrl, projectIds: ["p"] }, 201);
  const task = (n: number) => ({
    type: "DATABASE_DATA_UPDATE",
    instanceId: "t",
    database: "repro_target",
    statement: `SELECT pg_sleep(6) /* ${n} */`,
  });
  const { id: rollout } = await api.must<{ id: string }>(
    "POST",
    "/projects/p/rollouts",
    { title: "r", stages: [{ environment: "prod", tasks: [task(1), task(2)] }] },
    201,
  );
  const { tasks } = await api.must<{ tasks: { id: string }[] }>("GET", `/rollouts/${rollout}/tasks`);
  await api.must("POST", `/rollouts/${rollout}/tasks/run`, { taskIds: tasks.map((t) => t.id) });

  const control = new pg.Client({ connectionString: controlUrl });
  control.on("error", () => undefined);
  await control.connect();
  await waitFor("both runs RUNNING", 30_000, async () => {
    const { rows } = await control.query("SELECT count(*)::int AS n FROM task_run WHERE status = 'RUNNING'");
    return rows[0].n === 2;
  });
  const { rows: runs } = await control.query<{ id: string }>("SELECT id FROM task_run ORDER BY id");
  const [locked, free] = [runs[0]!.id, runs[1]!.id];

  // What a replica paused inside the cancel of run `locked` holds.
  const holder = new pg.Client({ connectionString: controlUrl });
  holder.on("error", () => undefined);
  await holder.connect();
  await holder.query("BEGIN");
  await holder.query("SELECT id FROM task_run WHERE id = $1 FOR UPDATE", [locked]);
  console.log(`holding the row lock of run ${locked} for 5 s (lease 2 s); run ${free} is not locked`);
  await new Promise((r) => setTimeout(r, 5000));
  // A plain read is not blocked by row locks: has the owner kept run `free`'s lease alive meanwhile?
  const { rows: lease } = await control.query<{ expired_ms: number; status: string }>(
    "SELECT status, (extract(epoch FROM clock_timestamp() - lease_expires_at) * 1000)::int AS expired_ms FROM task_run WHERE id = $1",
    [free],
  );
  await holder.query("COMMIT");
  await holder.end();

  // After the lock is gone, both runs should finish within a few seconds (6 s statements).
  const finished = await waitFor(
    "both runs finished",
    25_000,
    async () => {
      const { rows } = await control.query("SELECT count(*)::int AS n FROM task_run WHERE status IN ('PENDING', 'AVAILABLE', 'RUNNING')");
      return rows[0].n === 0;
    },
    300,
  ).then(
    () => true,
    () => false,
  );
  const { rows: log } = await control.query<{ id: string; at: Date; payload: { status?: string; epoch?: number; message?: string } }>(
    "SELECT task_run_id AS id, at, payload FROM task_run_log WHERE type = 'STATUS' ORDER BY id",
  );
  for (const l of log)
    console.log(
      `  ${l.at.toISOString().slice(11, 23)} run ${l.id}: ${l.payload.status ?? ""} ${l.payload.epoch ? `epoch ${l.payload.epoch}` : ""}${l.payload.message ?? ""}`,
    );
  const sweptWhileLocked = log.some((l) => l.id === free && /lease of replica \S+ expired/.test(l.payload.message ?? ""));
  const lostWhileLocked = sweptWhileLocked || (lease[0]?.status === "RUNNING" && (lease[0]?.expired_ms ?? 0) > 0);
  const epochs = await control.query<{ id: string; lease_epoch: number; status: string }>(
    "SELECT id, lease_epoch, status FROM task_run ORDER BY id",
  );
  await control.end();
  if (lostWhileLocked) {
    console.log(
      `BUG 1: run ${free}, owned by a healthy replica and never locked, lost its lease while run ${locked}'s row was locked` +
        (sweptWhileLocked
          ? " (the sweeper took it away)"
          : ` (at the end of the 5 s its lease had been expired for ${lease[0]!.expired_ms} ms)`),
    );
  }
  if (!finished) {
    console.log(
      `BUG 2: 25 s after the lock was released the runs still have not finished: ${epochs.rows.map((r) => `run ${r.id} ${r.status} at epoch ${r.lease_epoch}`).join(", ")}.`,
    );
    console.log("       Each time the owner re-claims a run it lost, the old execution's cleanup removes the new one from");
    console.log("       the set of runs it renews (RunningScheduler.executions is keyed by run id), so every new claim");
    console.log("       loses its lease one lease later, and the run goes RUNNING → AVAILABLE → RUNNING forever.");
  }
  bug = lostWhileLocked || !finished;
  if (!bug) console.log(`ok: run ${free} kept its lease, and both runs finished`);
} catch (e) {
  console.error(e);
} finally {
  await replicas?.stopAll(3000).catch(() => replicas?.killAllNow());
  await server.stop();
}
process.exit(bug ? 1 : 0);
