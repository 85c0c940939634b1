import { TaskType } from "@runway/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { boundedQuery, TargetPools } from "../src/executors/target-pools.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "./helpers/db.js";
import { withDatabase } from "../src/db/url.js";
import { FaultProxy } from "./helpers/fault-proxy.js";
import { execCtx, runOn } from "./helpers/runs.js";
import { runSessions } from "./helpers/target-sessions.js";

/**
 * The executor under network faults between it and the target (bugs 1 and 3 of issue 10): errors below
 * the SQL layer never fail a run, and a silent target cannot hold an execution, a cancel or a pool.
 * Bounds are asserted with generous slack for a loaded two-core machine.
 */

const SLACK_MS = 4000;
let target: TargetDatabase;
let proxy: FaultProxy;
let executor: PostgresExecutor | undefined;

beforeEach(async () => {
  target = await createTargetDatabase();
  const u = new URL(targetServerUrl());
  proxy = await FaultProxy.start(u.hostname, Number(u.port));
});
afterEach(async () => {
  await executor?.close();
  executor = undefined;
  await proxy.close();
  await target.drop();
});

const viaProxy = () => proxy.rewrite(targetServerUrl());
const errorOf = (result: Record<string, unknown>) => result.error as { message: string; code?: string };

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t0 = Date.now();
  const v = await p;
  return [v, Date.now() - t0];
}

describe("errors below the SQL layer are never the statement's fault", () => {
  it("a refused connection (ECONNREFUSED) is RETRY, not started, at once", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000 });
    const run = runOn("none", { connectionUrl: "postgres://nobody@127.0.0.1:1/none" });
    const [out, ms] = await timed(executor.execute(run, execCtx()));
    expect(out).toMatchObject({ status: "RETRY", notStarted: true });
    expect(errorOf(out.result).code).toBe("ECONNREFUSED");
    expect(ms).toBeLessThan(SLACK_MS);
  });

  it("a target that drops new connections (restarting) is RETRY, not started; once it is back, the next run applies", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000 });
    proxy.refuse();
    const down = await executor.execute(runOn(target.name, { connectionUrl: viaProxy() }), execCtx());
    expect(down).toMatchObject({ status: "RETRY", notStarted: true });
    expect(down.message).toMatch(/target unreachable/);
    proxy.pass();
    const up = await executor.execute(
      runOn(target.name, { connectionUrl: viaProxy(), statement: "CREATE TABLE back_again ()" }),
      execCtx(),
    );
    expect(up.status, up.message).toBe("DONE");
  });

  it("a connection reset mid-statement is RETRY (statement sent), and nothing of the run commits", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 30_000 });
    const run = runOn(target.name, { connectionUrl: viaProxy(), statement: "SELECT pg_sleep(2); CREATE TABLE reset_me ()" });
    const p = executor.execute(run, execCtx());
    await waitFor(async () => (await runSessions(target, run.id, "wait_event = 'PgSleep'")).length > 0, { what: "statement running" });
    proxy.reset();
    const out = await p;
    expect(out.status, out.message).toBe("RETRY");
    expect(out.notStarted).toBeFalsy();
    expect(out.message).toMatch(/session lost before commit/);
    // The backend notices when it next writes to the socket, and rolls back.
    await waitFor(async () => (await runSessions(target, run.id)).length === 0, { what: "the orphaned session ended", timeoutMs: 30_000 });
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'reset_me'")).toEqual([]);
    expect(await target.query(`SELECT 1 FROM runway_ledger WHERE run_id = ${run.id}`)).toEqual([]);
  });

  it("a session ended by the server (a restart, an administrator) is RETRY, not FAILED", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 30_000 });
    const run = runOn(target.name, { statement: "SELECT pg_sleep(30)" });
    const p = executor.execute(run, execCtx());
    const [s] = await waitFor(
      async () => {
        const r = await runSessions(target, run.id, "wait_event = 'PgSleep'");
        return r.length > 0 && r;
      },
      { what: "statement running" },
    );
    await target.query(`SELECT pg_terminate_backend(${s!.pid})`);
    const out = await p;
    expect(out.status, out.message).toBe("RETRY");
    expect(errorOf(out.result).code).toBe("57P01");
  });

  it("a statement the server refuses still FAILs with its SQLSTATE", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000 });
    const out = await executor.execute(runOn(target.name, { connectionUrl: viaProxy(), statement: "SELECT * FROM nowhere" }), execCtx());
    expect(out.status).toBe("FAILED");
    expect(errorOf(out.result).code).toBe("42P01");
  });
});

describe("a silent target (no RST) holds nothing for long", () => {
  it("connecting into a black hole: RETRY, not started, within the connect bound", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000, connectTimeoutMs: 1000 });
    proxy.blackhole();
    const [out, ms] = await timed(executor.execute(runOn(target.name, { connectionUrl: viaProxy() }), execCtx()));
    expect(out).toMatchObject({ status: "RETRY", notStarted: true });
    expect(errorOf(out.result).code).toBe("CONNECT_TIMEOUT");
    expect(ms).toBeLessThan(1000 + SLACK_MS);
  });

  it("an abort while connecting into a black hole ends the execution at once: CANCELED, not started", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 10_000, connectTimeoutMs: 30_000, queryTimeoutMs: 1000 });
    proxy.blackhole();
    const abort = new AbortController();
    const p = executor.execute(runOn(target.name, { connectionUrl: viaProxy() }), execCtx({ signal: abort.signal }));
    await waitFor(async () => proxy.connections > 0, { what: "connection attempt" });
    abort.abort("cancel requested");
    const [out, ms] = await timed(p);
    expect(out).toMatchObject({ status: "CANCELED", notStarted: true });
    expect(ms).toBeLessThan(SLACK_MS);
  });

  it("a pooled session whose path went silent: the statement's query is bounded (statement timeout per statement + margin)", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 500, queryTimeoutMs: 500, poolSize: 1 });
    const warm = await executor.execute(runOn(target.name, { connectionUrl: viaProxy(), type: TaskType.DATABASE_DATA_UPDATE }), execCtx());
    expect(warm.status, warm.message).toBe("DONE");
    await waitFor(
      async () =>
        (await target.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'runway executor (idle)' AND state = 'idle'")).length >
        0,
      { what: "session back in the pool" },
    );
    proxy.blackhole();
    const run = runOn(target.name, { connectionUrl: viaProxy(), statement: "CREATE TABLE never_here ()" });
    // BEGIN, SET LOCAL, INSERT ledger, statement: 4 statements × 500 ms + 500 ms margin.
    const [out, ms] = await timed(executor.execute(run, execCtx()));
    expect(out.status, out.message).toBe("RETRY");
    expect(errorOf(out.result).code).toBe("QUERY_TIMEOUT");
    expect(ms).toBeGreaterThanOrEqual(2400);
    expect(ms).toBeLessThan(2500 + SLACK_MS);
  });

  it("a cancel that cannot reach a silent target ends the execution within the cancel bound, as RETRY (the session may live on)", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 60_000, cancelTimeoutMs: 1000, connectTimeoutMs: 1000 });
    const run = runOn(target.name, { connectionUrl: viaProxy(), statement: "SELECT pg_sleep(60)" });
    const abort = new AbortController();
    const p = executor.execute(run, execCtx({ signal: abort.signal }));
    await waitFor(async () => (await runSessions(target, run.id, "wait_event = 'PgSleep'")).length > 0, { what: "statement running" });
    proxy.blackhole();
    abort.abort("cancel requested");
    const [out, ms] = await timed(p);
    expect(out.status, out.message).toBe("RETRY");
    expect(out.notStarted).toBeFalsy();
    expect(errorOf(out.result).code).toBe("CANCEL_UNDELIVERED");
    expect(ms).toBeLessThan(1000 + SLACK_MS);
    // It does live on at the target: only a reconcile (or the server's own timeouts) can end it.
    expect(await runSessions(target, run.id)).toHaveLength(1);
  });

  it("a cancel that reaches the target still ends the statement: CANCELED", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 60_000, cancelTimeoutMs: 5000 });
    const run = runOn(target.name, { connectionUrl: viaProxy(), statement: "CREATE TABLE canceled_here (); SELECT pg_sleep(60)" });
    const abort = new AbortController();
    const p = executor.execute(run, execCtx({ signal: abort.signal }));
    await waitFor(async () => (await runSessions(target, run.id, "wait_event = 'PgSleep'")).length > 0, { what: "statement running" });
    abort.abort("cancel requested");
    const out = await p;
    expect(out.status, out.message).toBe("CANCELED");
    expect(JSON.stringify(out.result)).toContain("canceling statement due to user request");
  });

  it("a session returned to its pool over a silent path is closed within the query bound, and close() does not hang", async () => {
    const pools = new TargetPools({
      size: 2,
      maxPools: 4,
      idleMs: 60_000,
      statementTimeoutMs: 0,
      connectTimeoutMs: 1000,
      keepAliveIdleMs: 10_000,
      queryTimeoutMs: 500,
      applicationName: "runway test",
    });
    try {
      const client = await pools.acquire(withDatabase(viaProxy(), target.name));
      const socket = (client as unknown as { connection: { stream: { destroyed: boolean } } }).connection.stream;
      const idle = await pools.acquire(withDatabase(viaProxy(), target.name));
      pools.release(idle, false);
      await waitFor(
        async () =>
          (await target.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'runway test' AND state = 'idle'")).length === 2,
        { what: "both sessions idle" },
      );
      proxy.blackhole();
      pools.release(client, false); // DISCARD ALL goes into the black hole
      await waitFor(async () => socket.destroyed, { what: "socket closed", timeoutMs: 500 + SLACK_MS });
    } finally {
      const [, ms] = await timed(pools.close()); // the idle session's goodbye is never answered
      expect(ms).toBeLessThan(500 + SLACK_MS);
    }
  });
});

describe("client-side bounds", () => {
  it("a bound beyond Node's timer range (a long statement_timeout × many statements) is clamped, not turned into 1 ms", async () => {
    const pools = new TargetPools({
      size: 1,
      maxPools: 1,
      idleMs: 1000,
      statementTimeoutMs: 0,
      connectTimeoutMs: 5000,
      keepAliveIdleMs: 10_000,
      queryTimeoutMs: 1000,
      applicationName: "runway test",
    });
    try {
      const client = await pools.acquire(target.url);
      await boundedQuery(client, "SELECT pg_sleep(0.2)", 3_600_000 * 1000);
      pools.release(client, false);
    } finally {
      await pools.close();
    }
  });
});

describe("the COMMIT whose answer is lost", () => {
  it("asks the target's ledger: DONE when the commit went through", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 500, queryTimeoutMs: 1000 });
    const run = runOn(target.name, { connectionUrl: viaProxy(), statement: "CREATE TABLE committed_blind ()" });
    const out = await executor.execute(
      run,
      execCtx({
        // Right before COMMIT: from now on the current connection's replies are held; new connections pass.
        stillOwner: async () => {
          proxy.blackhole({ existing: true, replies: true });
          return true;
        },
      }),
    );
    expect(out.status, out.message).toBe("DONE");
    expect(out.message).toMatch(/ledger confirms it committed/);
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'committed_blind'")).toHaveLength(1);
  });

  it("RETRY when the ledger shows it did not commit", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 500, queryTimeoutMs: 1000 });
    const run = runOn(target.name, { connectionUrl: viaProxy(), statement: "CREATE TABLE reset_before_commit ()" });
    const out = await executor.execute(
      run,
      execCtx({
        stillOwner: async () => {
          proxy.reset();
          return true;
        },
      }),
    );
    expect(out.status, out.message).toBe("RETRY");
    expect(out.notStarted).toBeFalsy();
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'reset_before_commit'")).toEqual([]);
  });

  it("RETRY with COMMIT_UNKNOWN when the ledger cannot be read either, within the commit and query bounds", async () => {
    executor = new PostgresExecutor({ statementTimeoutMs: 500, queryTimeoutMs: 1000 });
    const run = runOn(target.name, { connectionUrl: viaProxy(), statement: "CREATE TABLE maybe_committed ()" });
    const [out, ms] = await timed(
      executor.execute(
        run,
        execCtx({
          stillOwner: async () => {
            proxy.blackhole();
            return true;
          },
        }),
      ),
    );
    expect(out.status, out.message).toBe("RETRY");
    expect(errorOf(out.result).code).toBe("COMMIT_UNKNOWN");
    expect(ms).toBeLessThan(500 + 1000 + 1000 + SLACK_MS);
  });
});
