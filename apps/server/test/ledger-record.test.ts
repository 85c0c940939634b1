import { describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { execCtx, runOn } from "./helpers/runs.js";
import { useLedgeredTarget } from "./helpers/target-ledger.js";

/**
 * A statement that runs outside a transaction (CREATE INDEX CONCURRENTLY) is applied before its ledger
 * row is written; when that write fails the row is written again on fresh sessions, so a DONE run's
 * change is in the ledger (chaos found a DONE index build without its row after a silent connection).
 * Faults are injected on the target itself: a trigger on runway_ledger that stalls or refuses inserts.
 */

const fx = useLedgeredTarget("CREATE TABLE t (x int); CREATE SEQUENCE ledger_tries");

/** A trigger on the ledger: `body` runs before each insert, `ledger_tries` counting them (non-transactionally). */
async function onLedgerInsert(body: string): Promise<void> {
  await fx.target.query(`CREATE FUNCTION ledger_fault() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE n bigint := nextval('ledger_tries');
    BEGIN ${body} RETURN NEW; END $$;
    CREATE TRIGGER ledger_fault BEFORE INSERT ON runway_ledger FOR EACH ROW EXECUTE FUNCTION ledger_fault()`);
}

const cic = (name: string) =>
  runOn(fx.target.name, { connectionUrl: fx.target.url, statement: `CREATE INDEX CONCURRENTLY ${name} ON t (x)`, rerunnable: false });
const ledgerRows = (run: { taskId: string }) => fx.target.query(`SELECT run_id::text FROM runway_ledger WHERE task_id = ${run.taskId}`);
const indexExists = async (name: string) => (await fx.target.query(`SELECT 1 FROM pg_indexes WHERE indexname = '${name}'`)).length === 1;

describe("the ledger row of a statement run outside a transaction", () => {
  it("is written on a fresh session when the pooled one goes silent after the statement", async () => {
    const executor = fx.use(new PostgresExecutor({ statementTimeoutMs: 30_000, queryTimeoutMs: 1000, ledgerRetryMs: 20_000 }));
    await onLedgerInsert("IF n = 1 THEN PERFORM pg_sleep(5); END IF;");
    const run = cic("silent_idx");
    const logs: Array<{ type: string; payload: Record<string, unknown> }> = [];
    const out = await executor.execute(run, execCtx({ log: async (type, payload) => void logs.push({ type, payload }) }));
    expect(out.status, out.message).toBe("DONE");
    expect(out.result.note).toBeUndefined();
    expect(await indexExists("silent_idx")).toBe(true);
    expect(await ledgerRows(run)).toEqual([{ run_id: run.id }]);
    expect(logs.map((l) => l.type)).toEqual(["LEDGER_RETRY", "LEDGER_RECORDED"]);
    expect(String(logs[0]!.payload.message)).toMatch(/timeout/i);
  });

  it("is tried until the window closes, then the run is DONE saying the ledger lacks it", async () => {
    const executor = fx.use(new PostgresExecutor({ statementTimeoutMs: 30_000, queryTimeoutMs: 1000, ledgerRetryMs: 2000 }));
    await onLedgerInsert("RAISE EXCEPTION 'ledger refused (try %)', n;");
    const run = cic("refused_idx");
    const t0 = Date.now();
    const out = await executor.execute(run, execCtx());
    expect(Date.now() - t0).toBeLessThan(2000 + 4000);
    expect(out.status, out.message).toBe("DONE");
    expect(out.result.note).toMatch(/the ledger row could not be written \(ledger refused \(try [2-9]\)\)/);
    expect(out.message).toMatch(/the ledger row could not be written/);
    const tries = await fx.target.query<{ n: string }>("SELECT last_value::text AS n FROM ledger_tries");
    expect(Number(tries[0]!.n)).toBeGreaterThanOrEqual(3); // the pooled try, then fresh ones 250, 500, 1000 ms apart
    expect(await indexExists("refused_idx")).toBe(true);
    expect(await ledgerRows(run)).toEqual([]);
  });

  it("stops trying at once when the run is aborted (a cancel cannot undo an applied statement: DONE)", async () => {
    const executor = fx.use(new PostgresExecutor({ statementTimeoutMs: 30_000, queryTimeoutMs: 1000, ledgerRetryMs: 60_000 }));
    await onLedgerInsert("RAISE EXCEPTION 'ledger refused';");
    const ac = new AbortController();
    const run = cic("aborted_idx");
    const t0 = Date.now();
    const out = await executor.execute(
      run,
      execCtx({ signal: ac.signal, log: async (type) => void (type === "LEDGER_RETRY" && ac.abort("cancel requested")) }),
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(out.status, out.message).toBe("DONE");
    expect(out.result.note).toMatch(/the ledger row could not be written/);
    expect(await indexExists("aborted_idx")).toBe(true);
  });
});
