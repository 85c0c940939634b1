import pg from "pg";
import { describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { waitFor } from "./helpers/db.js";
import { execCtx, runOn } from "./helpers/runs.js";
import { useLedgeredTarget } from "./helpers/target-ledger.js";

/**
 * PostgreSQL creates a concurrently built index INVALID before it builds it, and keeps it when the build
 * ends with an error — canceled, or failed (a unique index over duplicates). Running the task again then
 * fails on the index's name until someone drops it, so the run's outcome says what it left and how to
 * clear it. (A build whose session was lost is the reconcile's: reconcile.test.ts.)
 */

const fx = useLedgeredTarget("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (1); CREATE INDEX there_idx ON t (x)");

const build = (statement: string) => runOn(fx.target.name, { connectionUrl: fx.target.url, statement, rerunnable: false });
const indexValid = async (name: string) =>
  (
    await fx.target.query<{ valid: boolean }>(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = '${name}'`,
    )
  ).map((r) => r.valid);

describe("an index build that ended with an error on its own session", () => {
  it("failed (a unique index over duplicates): FAILED, and the error names the INVALID index to drop", async () => {
    const executor = fx.use(new PostgresExecutor({ statementTimeoutMs: 30_000, queryTimeoutMs: 5000 }));
    const out = await executor.execute(build("CREATE UNIQUE INDEX CONCURRENTLY u_idx ON t (x)"), execCtx());
    expect(out.status).toBe("FAILED");
    const hint = "the build left the index u_idx INVALID: drop it (DROP INDEX CONCURRENTLY u_idx) before running the task again";
    expect(out.message).toContain("could not create unique index");
    expect(out.message).toContain(hint);
    expect((out.result.error as { message: string; code: string }).message).toContain(hint);
    expect((out.result.error as { code: string }).code).toBe("23505");
    expect(await indexValid("u_idx")).toEqual([false]);
  });

  it("canceled while it waits for a writer: CANCELED, and the outcome names the INVALID index to drop", async () => {
    const executor = fx.use(new PostgresExecutor({ statementTimeoutMs: 30_000, queryTimeoutMs: 5000 }));
    // A writer's open transaction holds the build after its first phase, which made the index (INVALID).
    const writer = new pg.Client({ connectionString: fx.target.url });
    await writer.connect();
    try {
      await writer.query("BEGIN; INSERT INTO t VALUES (2)");
      const abort = new AbortController();
      const out = executor.execute(build("CREATE INDEX CONCURRENTLY c_idx ON t (x)"), execCtx({ signal: abort.signal }));
      await waitFor(async () => (await indexValid("c_idx")).length === 1, { timeoutMs: 10_000 });
      abort.abort("canceled by a releaser");
      const done = await out;
      expect(done.status).toBe("CANCELED");
      const hint = "the build left the index c_idx INVALID: drop it (DROP INDEX CONCURRENTLY c_idx) before running the task again";
      expect(done.message).toBe(`aborted: canceled by a releaser; ${hint}`);
      expect((done.result.error as { code: string; message: string }).code).toBe("57014");
      expect((done.result.error as { message: string }).message).toContain(hint);
      expect(await indexValid("c_idx")).toEqual([false]);
    } finally {
      await writer.end();
    }
  });

  it("failed on an index of that name that was there (and valid): nothing is added", async () => {
    const executor = fx.use(new PostgresExecutor({ statementTimeoutMs: 30_000, queryTimeoutMs: 5000 }));
    const out = await executor.execute(build("CREATE INDEX CONCURRENTLY there_idx ON t (x)"), execCtx());
    expect(out.status).toBe("FAILED");
    expect(out.message).toBe('relation "there_idx" already exists');
    expect(await indexValid("there_idx")).toEqual([true]);
  });
});
