import { randomUUID } from "node:crypto";
import pg from "pg";
import { TaskType } from "@runway/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { installationTag, runSessionName } from "../src/executors/session-name.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "./helpers/db.js";
import { FaultProxy } from "./helpers/fault-proxy.js";
import { execCtx, runOn, sessionAs } from "./helpers/runs.js";
import { runSessions } from "./helpers/target-sessions.js";

/**
 * The reconciler decides a run whose owner is gone from the target itself (bugs 2 and 7 of issue 10):
 * it ends every session of the run and waits until none remains, then the ledger says whether the
 * change was applied. It never touches other installations' or runs' sessions, and every wait is bounded.
 */

let target: TargetDatabase;
let executor: PostgresExecutor;
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  target = await createTargetDatabase();
  executor = new PostgresExecutor({ statementTimeoutMs: 60_000 });
});
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
  await executor.close();
  await target.drop();
});

async function session(url: string, name: string, sql?: string) {
  const s = await sessionAs(url, name, sql);
  cleanups.push(s.end);
  return s;
}

describe("reconcile", () => {
  it("ends every session of the run (any epoch) and returns only once they are gone; no ledger: not_applied", async () => {
    const run = runOn(target.name, { epoch: 3 });
    const me = { installationId: run.installationId, runId: run.id };
    const mine = [
      await session(target.url, runSessionName({ ...me, epoch: 1 }, "old")),
      await session(target.url, runSessionName({ ...me, epoch: 3 }, "now")),
    ];
    const others = [
      await session(target.url, runSessionName({ ...me, installationId: randomUUID(), epoch: 1 }, "other-installation")),
      await session(target.url, runSessionName({ ...me, runId: `${run.id}1`, epoch: 1 }, "other-run")),
    ];
    const out = await executor.reconcile(run, { timeoutMs: 10_000 });
    expect(out).toEqual({ state: "not_applied" });
    // Checked right away, not polled: reconcile itself waited for them to exit.
    expect(await runSessions(target, run.id, `application_name LIKE '% in ${installationTag(run.installationId)} %'`)).toEqual([]);
    for (const s of mine) expect(await s.done).toMatch(/terminating connection due to administrator command/);
    const pids = (await target.query<{ pid: number }>("SELECT pid FROM pg_stat_activity")).map((r) => r.pid);
    for (const s of others) expect(pids).toContain(s.pid);
  });

  it("a ledger row: applied, with its attempt and time", async () => {
    const run = runOn(target.name, { attempt: 2, statement: "CREATE TABLE v1_applied (id int)" });
    const done = await executor.execute(run, execCtx());
    expect(done.status, done.message).toBe("DONE");
    const out = await executor.reconcile({ ...run, epoch: 4 }, { timeoutMs: 10_000 });
    expect(out).toMatchObject({ state: "applied", attempt: 2 });
    expect(out.state === "applied" && out.appliedAt).toBeInstanceOf(Date);
  });

  it("a ledger without the task's row: not_applied; a database that does not exist: not_applied", async () => {
    const applied = runOn(target.name, { statement: "SELECT 1" });
    expect((await executor.execute(applied, execCtx())).status).toBe("DONE");
    expect(await executor.reconcile({ ...applied, taskId: "1" }, { timeoutMs: 10_000 })).toEqual({ state: "not_applied" });
    expect(await executor.reconcile(runOn("no_such_database_here"), { timeoutMs: 10_000 })).toEqual({ state: "not_applied" });
  });

  it("a non-re-runnable statement still running: its session is ended before the answer, and the answer is not_applied", async () => {
    await target.query("CREATE TABLE big (id int)");
    // An open writer transaction makes CREATE INDEX CONCURRENTLY wait (a long index build).
    const blocker = new pg.Client({ connectionString: target.url });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    await blocker.query("BEGIN; INSERT INTO big VALUES (1)");
    const run = runOn(target.name, { statement: "CREATE INDEX CONCURRENTLY big_idx ON big (id)", rerunnable: false });
    const owner = new PostgresExecutor({ statementTimeoutMs: 60_000 }); // the owner that stopped heartbeating
    cleanups.push(() => owner.close());
    const p = owner.execute(run, execCtx());
    await waitFor(async () => (await runSessions(target, run.id, "query LIKE 'CREATE INDEX%'")).length > 0, {
      what: "CIC running on the target",
    });
    const out = await executor.reconcile({ ...run, epoch: 2 }, { timeoutMs: 10_000 });
    // PostgreSQL created the index INVALID before waiting: the answer says so, and how to clear it.
    expect(out).toEqual({
      state: "not_applied",
      leftover:
        "the interrupted build left the index big_idx INVALID: drop it (DROP INDEX CONCURRENTLY big_idx) before running the task again",
    });
    expect(await runSessions(target, run.id)).toEqual([]);
    // Nothing of it can finish later: the next sequential change may start now.
    await blocker.query("COMMIT");
    expect((await p).status).toBe("RETRY");
    expect(
      await target.query("SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'big_idx' AND i.indisvalid"),
    ).toEqual([]);
  });

  it("an index build without its ledger row whose index is there and valid: not_applied, saying the index exists", async () => {
    await target.query(`CREATE SCHEMA s1; CREATE TABLE s1.t (x int); CREATE INDEX "Odd Idx" ON s1.t (x)`);
    const statement = `CREATE INDEX CONCURRENTLY IF NOT EXISTS "Odd Idx" ON s1.t (x)`;
    const out = await executor.reconcile(runOn(target.name, { statement, rerunnable: false }), { timeoutMs: 10_000 });
    expect(out).toMatchObject({ state: "not_applied", leftover: expect.stringMatching(/^the index s1\."Odd Idx" exists and is valid: /) });
    // A quote inside the name is escaped, so the lookup still finds exactly that index.
    await target.query(`CREATE INDEX "Q""uote" ON s1.t (x)`);
    const quoted = await executor.reconcile(
      runOn(target.name, { statement: `CREATE INDEX CONCURRENTLY "Q""uote" ON s1.t (x)`, rerunnable: false }),
      { timeoutMs: 10_000 },
    );
    expect(quoted).toMatchObject({
      state: "not_applied",
      leftover: expect.stringMatching(/^the index s1\."Q""uote" exists and is valid: /),
    });
    // No name to look up (an unnamed index), or no such index: nothing to say.
    for (const other of ["CREATE INDEX CONCURRENTLY ON s1.t (x)", "CREATE INDEX CONCURRENTLY never_built ON s1.t (x)", "VACUUM s1.t"])
      expect(await executor.reconcile(runOn(target.name, { statement: other, rerunnable: false }), { timeoutMs: 10_000 })).toEqual({
        state: "not_applied",
      });
  });

  it("DATABASE_CREATE: applied exactly when the database exists", async () => {
    const run = runOn(target.name, { type: TaskType.DATABASE_CREATE });
    expect(await executor.reconcile(run, { timeoutMs: 10_000 })).toMatchObject({ state: "applied", attempt: 1 });
    expect(await executor.reconcile({ ...run, database: "never_created_db" }, { timeoutMs: 10_000 })).toEqual({ state: "not_applied" });
  });

  it("a black-holed target: unreachable within the bound", async () => {
    const u = new URL(targetServerUrl());
    const proxy = await FaultProxy.start(u.hostname, Number(u.port));
    cleanups.push(() => proxy.close());
    proxy.blackhole();
    const t0 = Date.now();
    const out = await executor.reconcile(runOn(target.name, { connectionUrl: proxy.rewrite(targetServerUrl()) }), { timeoutMs: 1500 });
    expect(out.state).toBe("unreachable");
    expect(Date.now() - t0).toBeLessThan(1500 + 3000);
  });
});
