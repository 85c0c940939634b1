/**
 * Reproduction (not part of the test command): an owner that is slow, not lost, between the end of its
 * statement and COMMIT fails the task. The executor bounds how long a run's target transaction may sit
 * idle (`idleInTransactionTimeoutMs`, half a lease in main.ts) so that a frozen zombie cannot commit after
 * a takeover. But a live owner whose lease check (`stillOwner`, a round trip to the control database)
 * takes longer than that bound, on a loaded machine, loses its target session too: PostgreSQL ends it,
 * COMMIT fails ("Client has encountered a connection error and is not queryable", or 25P03 "terminating
 * connection due to idle-in-transaction timeout" when COMMIT is sent first), and the run ends FAILED —
 * not retried, not released — although its lease was valid the whole time and nothing was applied.
 * Seen in `pnpm chaos --preset short --seed 7` at load 11-12 (lease 3 s, bound 1.5 s): a replica stalled
 * for about 3 s and two runs FAILED with those two messages; one was a versioned change, so the later
 * versions on its database could never run (invariant 1). Fixed in 1699586: such a session loss is a
 * RETRY (the run goes back to AVAILABLE), and the bound is three quarters of a lease.
 *
 *   pnpm --filter @runway/chaos exec tsx repro/slow-owner-commit.ts   # exits 1 while the bug is there
 */
import pg from "pg";
import { TaskType } from "../../packages/shared/src/index.js";
import { startBenchPg } from "../../bench/lib/pg.js";
import { type ExecContext, PostgresExecutor } from "@runway/server/executors";
import type { ClaimedRun } from "@runway/server/store";

const IDLE_BOUND_MS = 500; // what main.ts passes for a 1 s lease
const CHECK_MS = 800; // a slow but successful lease check: still well within the 1 s lease

const server = await startBenchPg();
let bug = false;
try {
  const targetUrl = await server.emptyDatabase("runway_repro_slow_owner");
  const setup = new pg.Client({ connectionString: targetUrl });
  await setup.connect();
  await setup.query("CREATE TABLE t (x integer)");
  await setup.end();

  const executor = new PostgresExecutor({ statementTimeoutMs: 0, idleInTransactionTimeoutMs: IDLE_BOUND_MS, poolSize: 2 });
  const run = (id: number): ClaimedRun => ({
    id: String(id),
    installationId: "00000000-0000-4000-8000-000000000001",
    taskId: String(id),
    rolloutId: "1",
    attempt: 1,
    epoch: 1,
    type: TaskType.DATABASE_DATA_UPDATE,
    statement: `INSERT INTO t VALUES (${id})`,
    schemaVersion: null,
    instanceId: "local",
    connectionUrl: server.serverUrl,
    database: "runway_repro_slow_owner",
    rerunnable: true,
    availableAt: new Date(),
    retrySince: null,
    retryAttempts: 0,
  });
  const ctx = (checkMs: number): ExecContext => ({
    signal: new AbortController().signal,
    replicaId: "repro",
    log: async () => undefined,
    stillOwner: () => new Promise((resolve) => setTimeout(() => resolve(true), checkMs)),
  });

  const slow = await executor.execute(run(1), ctx(CHECK_MS));
  console.log(`run 1, lease check took ${CHECK_MS} ms (still the owner): ${slow.status} — ${slow.message}`);
  await executor.close();
  bug = slow.status === "FAILED";
  console.log(
    bug
      ? "BUG: a live owner's run failed because its lease check was slower than the idle-in-transaction bound"
      : `ok: not failed (${slow.status})`,
  );
} finally {
  await server.stop();
}
process.exit(bug ? 1 : 0);
