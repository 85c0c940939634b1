import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import type { ExecContext } from "../src/executors/types.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunsClaim, type ClaimedRun } from "../src/store/runs.js";
import { createTargetDatabase, createTestDatabase, serverUrl, waitFor, type TargetDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { runSessions } from "./helpers/target-sessions.js";

/** The executor's pooled target sessions: nothing a run leaves behind reaches the next run, and a frozen owner cannot commit late. */

let t: TestDatabase;
let target: TargetDatabase;
let executor: PostgresExecutor;
const clock = { now: () => new Date() };

beforeEach(async () => {
  t = await createTestDatabase();
  target = await createTargetDatabase();
});
afterEach(async () => {
  await executor?.close();
  await t.close();
  await target.drop();
});

/** Seeds the statements as data updates (no gates among them) and claims them all. */
async function claimAll(statements: string[]): Promise<ClaimedRun[]> {
  const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: serverUrl() });
  await seedRollout(
    t.db,
    projectId,
    statements.map((statement) => task(instanceId, target.name, { statement, type: "DATABASE_DATA_UPDATE" })),
  );
  await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
  return taskRunsClaim(t.db, { replicaId: "A", limit: statements.length, leaseTtlMs: 60_000, now: new Date() });
}

const ctx = (over: Partial<ExecContext> = {}): ExecContext => ({
  signal: new AbortController().signal,
  replicaId: "A",
  log: async () => undefined,
  stillOwner: async () => true,
  ...over,
});

describe("pooled target sessions", () => {
  it("a run's session settings, temporary tables and locks do not reach the next run on the same session", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000, poolSize: 1 });
    const [first, second] = await claimAll([
      "SET search_path = nowhere; SET statement_timeout = 5000; CREATE TEMP TABLE leftover (x int); SELECT pg_advisory_lock(42); " +
        "CREATE TABLE public.first_pid AS SELECT pg_backend_pid() AS pid",
      "CREATE TABLE public.seen AS SELECT current_setting('search_path') AS search_path, current_setting('statement_timeout') AS timeout, " +
        "(SELECT count(*) FROM pg_class WHERE relpersistence = 't') AS temps, (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks, pg_backend_pid() AS pid",
    ]);
    const a = await executor.execute(first!, ctx());
    expect(a.status, a.message).toBe("DONE");
    const b = await executor.execute(second!, ctx());
    expect(b.status, b.message).toBe("DONE");
    const [seen] = await target.query<{ search_path: string; timeout: string; temps: string; locks: string; pid: number }>(
      "SELECT * FROM public.seen",
    );
    expect(seen).toMatchObject({ search_path: '"$user", public', timeout: "10s", temps: "0", locks: "0" });
    // The same session served both runs (otherwise this test would prove nothing).
    expect(await target.query("SELECT pid FROM public.first_pid")).toEqual([{ pid: seen!.pid }]);
  });

  it("an owner frozen between its lease check and COMMIT loses its target transaction before its lease runs out", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000, idleInTransactionTimeoutMs: 300 });
    const [run] = await claimAll(["CREATE TABLE must_not_commit (id int)"]);
    const out = await executor.execute(
      run!,
      ctx({
        // The owner "freezes" after its check passed: it resumes only once PostgreSQL ended its session.
        stillOwner: async () => {
          await waitFor(async () => (await runSessions(target, run!.id)).length === 0, {
            what: "the idle transaction ended by the target",
            timeoutMs: 10_000,
          });
          return true;
        },
      }),
    );
    // Nothing committed, so the run may go again (the running scheduler requeues it; the ledger guards).
    expect(out.status).toBe("RETRY");
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'must_not_commit'")).toEqual([]);
    expect(await target.query(`SELECT 1 FROM runway_ledger WHERE run_id = ${run!.id}`)).toEqual([]);
  });

  it("reports the statement's error position relative to the statement, and keeps the session for the next run", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000, poolSize: 1 });
    const [bad, good] = await claimAll([
      "SELECT 1;\nSELECT nope FROM pg_class",
      "CREATE TABLE after_error AS SELECT pg_backend_pid() AS pid",
    ]);
    const a = await executor.execute(bad!, ctx());
    expect(a.status).toBe("FAILED");
    expect(a.result).toMatchObject({ error: { code: "42703", position: 18 } });
    const b = await executor.execute(good!, ctx());
    expect(b.status, b.message).toBe("DONE");
    expect(b.result).toMatchObject({ rowsAffected: 1 });
  });
});
