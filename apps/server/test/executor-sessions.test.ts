import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import type { ExecContext } from "../src/executors/types.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunsClaim, type ClaimedRun } from "../src/store/runs.js";
import { randomBytes } from "node:crypto";
import {
  adminQuery,
  createTargetDatabase,
  createTestDatabase,
  serverUrl,
  targetServerUrl,
  waitFor,
  type TargetDatabase,
  type TestDatabase,
} from "./helpers/db.js";
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

  it("a run's SET ROLE, session name, prepared statements, LISTEN, cursors and locks do not reach the next run, after COMMIT, a failed statement or a dry run", async () => {
    // The reset rides in the COMMIT (or ROLLBACK) query: these are what DISCARD ALL cleared on its own round trip.
    const role = `runway_reset_${randomBytes(4).toString("hex")}`;
    await adminQuery(`CREATE ROLE ${role}`);
    await adminQuery(`GRANT ${role} TO ${new URL(targetServerUrl()).username}`);
    try {
      executor = new PostgresExecutor({ statementTimeoutMs: 10_000, poolSize: 1 });
      const [committed, failed, checker] = await claimAll([
        "CREATE TABLE public.first_pid AS SELECT pg_backend_pid() AS pid; " +
          `SET ROLE ${role}; SET application_name = 'runway run 1 in 0123456789 epoch 1 leftover'; SET lock_timeout = 1234; ` +
          "PREPARE leftover_plan AS SELECT 1; LISTEN leftover_channel; DECLARE leftover_cursor CURSOR WITH HOLD FOR SELECT 1; " +
          "SELECT pg_advisory_lock(42); CREATE TEMP TABLE leftover (x int); CREATE TEMP SEQUENCE leftover_seq; SELECT nextval('leftover_seq')",
        // Neither a session advisory lock nor a prepared statement is undone by the rollback of a failed statement.
        "SELECT pg_advisory_lock(43); PREPARE failed_plan AS SELECT 1; SELECT 1 / 0",
        "CREATE TABLE public.seen AS SELECT current_user::text AS usr, session_user::text AS session_usr, " +
          "(SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS name, current_setting('lock_timeout') AS lock_timeout, " +
          "(SELECT count(*) FROM pg_prepared_statements) AS prepared, (SELECT count(*) FROM pg_listening_channels()) AS listening, " +
          "(SELECT count(*) FROM pg_cursors) AS cursors, (SELECT count(*) FROM pg_class WHERE relpersistence = 't') AS temps, " +
          "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks, pg_backend_pid() AS pid",
      ]);
      const a = await executor.execute(committed!, ctx());
      expect(a.status, a.message).toBe("DONE");
      expect(a.result).not.toHaveProperty("note");
      const b = await executor.execute(failed!, ctx());
      expect(b.status, b.message).toBe("FAILED");
      expect(b.result).toMatchObject({ error: { code: "22012" } });
      const dry = await executor.dryRun(
        {
          id: "1",
          database: target.name,
          statement: "SELECT pg_advisory_lock(44); PREPARE dry_plan AS SELECT 1",
          connectionUrl: targetServerUrl(),
        },
        { lockTimeoutMs: 5_000, statementTimeoutMs: 5_000 },
      );
      expect(dry.outcome, JSON.stringify(dry.result)).toBe("PASSED");
      const c = await executor.execute(checker!, ctx());
      expect(c.status, c.message).toBe("DONE");
      const [seen] = await target.query<Record<string, string | number>>("SELECT * FROM public.seen");
      const usr = (await target.query<{ usr: string }>("SELECT current_user::text AS usr"))[0]!.usr;
      expect(seen).toMatchObject({
        usr,
        session_usr: usr,
        lock_timeout: "0",
        prepared: "0",
        listening: "0",
        cursors: "0",
        temps: "0",
        locks: "0",
      });
      // The run's own name while it runs; never the one the earlier statement set.
      expect(seen!.name).toMatch(new RegExp(`^runway run ${checker!.id} in `));
      // One session served all four (otherwise this test would prove nothing).
      expect(await target.query("SELECT pid FROM public.first_pid")).toEqual([{ pid: seen!.pid }]);
    } finally {
      await executor.close();
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it("a COMMIT the server refuses fails the run (nothing applied) and keeps the session for the next run", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000, poolSize: 1 });
    await target.query("CREATE TABLE public.deferred (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    const [refused, after] = await claimAll([
      "INSERT INTO public.deferred VALUES (1), (1)",
      "CREATE TABLE public.after_refused AS SELECT pg_backend_pid() AS pid",
    ]);
    const a = await executor.execute(refused!, ctx());
    expect(a.status, a.message).toBe("FAILED");
    expect(a.result).toMatchObject({ error: { code: "23505" } });
    expect(await target.query(`SELECT 1 FROM runway_ledger WHERE run_id = ${refused!.id}`)).toEqual([]);
    const b = await executor.execute(after!, ctx());
    expect(b.status, b.message).toBe("DONE");
    expect(await target.query(`SELECT 1 FROM runway_ledger WHERE run_id = ${after!.id}`)).toHaveLength(1);
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
