import type { ClaimedRun } from "../store/runs.js";
import { cancelOnAbort, connectUnlessAborted, type Progress } from "./abort.js";
import { runSessionName } from "./session-name.js";
import { TargetFault } from "./target-errors.js";
import { boundedQuery, type TargetPools } from "./target-pools.js";
import { note, type ExecContext, type ExecOutcome } from "./types.js";

/** The executor's bounds on the queries it sends a target (PostgresExecutor sets them from its options). */
export interface TargetBounds {
  /** Runway's own queries. */
  queryTimeoutMs: number;
  /** After an abort, how long the statement may take to end before our end of its session is closed. */
  cancelTimeoutMs: number;
  /** The client-side bound on a query carrying user statements. */
  statementBound: (sql: string) => number;
}

/**
 * DATABASE_CREATE: CREATE DATABASE cannot run in a transaction, so no ledger row can commit with it; the
 * database's existence is its own record. On a session of its own (not pooled: it is not tied to a
 * database of the target), named after the run so a later owner can fence it.
 */
export async function createDatabase(
  pools: TargetPools,
  run: ClaimedRun,
  ctx: ExecContext,
  p: Progress,
  bounds: TargetBounds,
): Promise<ExecOutcome> {
  const name = runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
  const client = await connectUnlessAborted(
    () => pools.connectOnce(run.connectionUrl, name),
    (c) => pools.closeOnce(c),
    ctx.signal,
  );
  p.phase = "prepare";
  const detach = cancelOnAbort(pools, run.connectionUrl, client, ctx.signal, p, bounds.cancelTimeoutMs);
  try {
    const exists = await boundedQuery(client, "SELECT 1 FROM pg_database WHERE datname = $1", bounds.queryTimeoutMs, [run.database]);
    if (exists.rowCount) {
      await note(ctx, "EXECUTE", { message: `database "${run.database}" already exists` });
      return { status: "DONE", result: { created: false }, message: `database "${run.database}" already exists`, notStarted: true };
    }
    // Always built here from the validated name: a task's free-form text never runs for this type.
    const stmt = `CREATE DATABASE ${client.escapeIdentifier(run.database)}`;
    if (ctx.signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
    p.phase = "sent";
    try {
      await boundedQuery(client, stmt, bounds.statementBound(stmt));
    } catch (e) {
      // Another attempt created it between our check and our statement: same end state.
      if ((e as { code?: string }).code !== "42P04") throw e;
    }
    return { status: "DONE", result: { created: true }, message: `database "${run.database}" created` };
  } finally {
    detach();
    pools.closeOnce(client);
  }
}
