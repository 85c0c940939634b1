import pg from "pg";
import { afterEach, beforeEach } from "vitest";
import { ledgerEnsure } from "../../src/executors/ledger.js";
import type { PostgresExecutor } from "../../src/executors/postgres.js";
import { createTargetDatabase, type TargetDatabase } from "./db.js";

/**
 * A fresh target database per test, with the ledger and `setupSql` in place, and the executor the test
 * uses closed after it. Registered as the file's hooks; call once at the top of the file.
 */
export function useLedgeredTarget(setupSql: string): { readonly target: TargetDatabase; use(e: PostgresExecutor): PostgresExecutor } {
  const state: { target?: TargetDatabase; executor: PostgresExecutor | undefined } = { executor: undefined };
  beforeEach(async () => {
    state.target = await createTargetDatabase();
    const c = new pg.Client({ connectionString: state.target.url });
    await c.connect();
    try {
      await ledgerEnsure(c, 10_000);
      await c.query(setupSql);
    } finally {
      await c.end();
    }
  });
  afterEach(async () => {
    await state.executor?.close();
    state.executor = undefined;
    await state.target?.drop();
  });
  return {
    get target() {
      return state.target!;
    },
    /** The test's executor, closed after it. */
    use(e: PostgresExecutor) {
      state.executor = e;
      return e;
    },
  };
}
