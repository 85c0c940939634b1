import type pg from "pg";
import type { ClaimedRun } from "../store/runs.js";
import { ledgerLookupSql } from "./ledger.js";
import { reconcileRun } from "./reconcile.js";
import { TargetFault } from "./target-errors.js";
import { boundedQuery, destroySocket, rowCounts, type TargetPools } from "./target-pools.js";

/** Where a transactional run's COMMIT query did not answer plainly (PostgresExecutor.applyInTransaction). */
export interface UnclearCommit {
  pools: TargetPools;
  /** The run's session on its target. */
  client: pg.PoolClient;
  run: ClaimedRun;
  /** What the COMMIT query failed with. */
  e: unknown;
  /** Rows the run's statement affected. */
  rows: number;
  queryTimeoutMs: number;
}

/**
 * The server answered the COMMIT query with an error. Almost always COMMIT itself failed (a deferred
 * constraint, a serialization failure, a cancel): it rolled back and the error is the statement's. But
 * the error may also come from the reset after a COMMIT that went through (a cancel arriving just then),
 * and the query's error does not say which statement raised it: the session, still usable, asks its
 * ledger. Not there: the COMMIT failed. There: DONE, and the note keeps the unreset session out of the
 * pool. The ledger cannot be read: as if the connection had been lost during COMMIT.
 */
export async function commitRefused(c: UnclearCommit): Promise<{ rows: number; note: string }> {
  const { client, run, e, rows, queryTimeoutMs } = c;
  let applied: boolean;
  try {
    applied = rowCounts(await boundedQuery(client, ledgerLookupSql(run), queryTimeoutMs)).at(-1)! > 0;
  } catch {
    return commitLost(c);
  }
  if (!applied) throw e;
  return { rows, note: `committed; resetting the session after COMMIT failed (${(e as Error).message})` };
}

/**
 * The connection was lost during COMMIT: it may or may not have committed. Our session is ended at
 * the target, then the ledger tells (bounded). Not applied: RETRY. Unknown (the target cannot be asked):
 * RETRY with COMMIT_UNKNOWN, and the ledger decides later (a reconcile, or a re-run's ledger check).
 */
export async function commitLost(c: UnclearCommit): Promise<{ rows: number; note: string }> {
  const { pools, client, run, e, rows, queryTimeoutMs } = c;
  destroySocket(client);
  const seen = await reconcileRun(pools, run, { timeoutMs: queryTimeoutMs, epochs: "up to" });
  if (seen.state === "not_applied") throw e;
  if (seen.state === "unreachable") {
    throw new TargetFault(
      "COMMIT_UNKNOWN",
      `the connection was lost during COMMIT (${(e as Error).message}) and the target's ledger could not be read: ${seen.error}`,
    );
  }
  return { rows, note: `the connection was lost during COMMIT; the target's ledger confirms it committed (${(e as Error).message})` };
}
