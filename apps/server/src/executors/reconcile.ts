import pg from "pg";
import { withDatabase } from "../db/url.js";
import { TaskType } from "@runway/shared";
import { runSessionsWhere } from "./session-name.js";
import { classify, sqlState } from "./target-errors.js";
import { concurrentIndexName, loadStatementParser } from "../domain/statements.js";
import { boundedQuery, destroySocket, type TargetPools } from "./target-pools.js";
import type { Reconciled, RunRef, TargetReconciler } from "./types.js";

/**
 * What became of a run whose owner is gone, asked of the target itself. First every session of the run
 * on the target is ended and confirmed gone: while one is alive it may still commit (or keep building
 * an index), so nothing read before that is final. Then the target's `runway_ledger` says whether the
 * change was applied (for DATABASE_CREATE: whether the database exists).
 *
 * Every wait is bounded by `timeoutMs`: connecting, each query, and the wait for terminated sessions to
 * exit. Whatever stops us from confirming — a refused or silent target, a session that outlives the
 * bound, an error of the server — is `unreachable`, and the caller keeps the run's gate held.
 */
export class PostgresReconciler implements TargetReconciler {
  constructor(private readonly pools: TargetPools) {}

  reconcile(run: RunRef, opts: { timeoutMs: number }): Promise<Reconciled> {
    return reconcileRun(this.pools, run, { timeoutMs: opts.timeoutMs, epochs: "any" });
  }
}

/** How often we look again for sessions that were sent SIGTERM (they exit within milliseconds when alive). */
const POLL_MS = [20, 50, 100, 200, 500];

/**
 * `epochs: "up to"` leaves newer owners' sessions alone: the executor uses it to learn whether its own
 * COMMIT went through after losing the connection, when it is not sure it is still the owner.
 */
export async function reconcileRun(
  pools: TargetPools,
  run: RunRef,
  opts: { timeoutMs: number; epochs: "any" | "up to" },
): Promise<Reconciled> {
  const deadline = Date.now() + opts.timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const creating = run.type === TaskType.DATABASE_CREATE;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  const work = async (): Promise<Reconciled> => {
    const url = creating ? run.connectionUrl : withDatabase(run.connectionUrl, run.database);
    try {
      client = await pools.connectOnce(url, `runway reconcile ${run.id}`, { connectTimeoutMs: left() });
    } catch (e) {
      // Nothing can have been applied to, or still run on, a database that does not exist.
      if (!creating && sqlState(e) === "3D000") return { state: "not_applied" };
      throw e;
    }
    await endSessions(client, run, opts.epochs, deadline);
    if (creating) return await databaseExists(client, run, left());
    const r = await ledgerRow(client, run, left());
    // Only an index build leaves something to report (and only such a statement is worth parsing here).
    if (r.state !== "not_applied" || !run.statement || !/\bconcurrently\b/i.test(run.statement)) return r;
    const leftover = await indexLeft(client, run.statement, left());
    return leftover ? { state: "not_applied", leftover } : r;
  };
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (client) destroySocket(client);
      reject(new Error(`target did not answer within ${opts.timeoutMs} ms`));
    }, left());
  });
  try {
    return await Promise.race([work(), bound]);
  } catch (e) {
    return { state: "unreachable", error: (e as Error).message };
  } finally {
    clearTimeout(timer);
    if (client) pools.closeOnce(client);
  }
}

async function endSessions(client: pg.Client, run: RunRef, epochs: "any" | "up to", deadline: number): Promise<void> {
  const where = runSessionsWhere({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, epochs);
  for (let i = 0; ; i++) {
    const left = deadline - Date.now();
    const { rows } = await boundedQuery<{ pid: number }>(
      client,
      `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${where}`,
      Math.max(1, left),
    );
    if (rows.length === 0) return;
    if (left <= 0)
      throw new Error(`${rows.length} session(s) of run ${run.id} still alive on the target (pids ${rows.map((r) => r.pid).join(", ")})`);
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS[Math.min(i, POLL_MS.length - 1)]!, Math.max(1, left))));
  }
}

async function ledgerRow(client: pg.Client, run: RunRef, timeoutMs: number): Promise<Reconciled> {
  try {
    const { rows } = await boundedQuery<{ attempt: number; applied_at: Date }>(
      client,
      "SELECT attempt, applied_at FROM public.runway_ledger WHERE installation_id = $1 AND task_id = $2",
      timeoutMs,
      [run.installationId, run.taskId],
    );
    const row = rows[0];
    return row ? { state: "applied", attempt: row.attempt, appliedAt: row.applied_at } : { state: "not_applied" };
  } catch (e) {
    if (sqlState(e) === "42P01") return { state: "not_applied" }; // no ledger yet: nothing was ever applied
    throw e;
  }
}

/** DATABASE_CREATE keeps no ledger: the database existing is the change. Its creation time is not recorded, so appliedAt is now. */
async function databaseExists(client: pg.Client, run: RunRef, timeoutMs: number): Promise<Reconciled> {
  const { rows } = await boundedQuery<{ now: Date }>(client, "SELECT now() FROM pg_database WHERE datname = $1", timeoutMs, [run.database]);
  return rows[0] ? { state: "applied", attempt: run.attempt, appliedAt: rows[0].now } : { state: "not_applied" };
}

/**
 * What an index build lost with its session left: PostgreSQL creates the index INVALID before it builds
 * it, so a build that did not finish leaves one behind, and running the task again fails on its name
 * until it is dropped. A valid index means the build may have finished before the session was lost (its
 * ledger row is written after it) or the index was there before. Null for other statements, or when the
 * name is not there. Looked up after every session of the run has ended, so nothing changes under it.
 */
async function indexLeft(client: pg.Client, statement: string, timeoutMs: number): Promise<string | null> {
  const row = await indexState(client, statement, timeoutMs);
  if (!row) return null;
  return row.valid
    ? `the index ${row.name} exists and is valid: the build may have finished before its session was lost, or the index was there before; check it, then skip the task or run it again`
    : `the interrupted build left the index ${row.name} INVALID: drop it (DROP INDEX CONCURRENTLY ${row.name}) before running the task again`;
}

/**
 * An index build that ended with an error on its own session — a cancel's 57014, or a failure such as a
 * unique index over duplicates — leaves its index INVALID, and running the task again fails on the name
 * until someone drops it: the executor's error `e` then says so. Asked on the same session, which such an
 * error leaves usable; an error of the connection is not followed by a question, and a failed lookup
 * changes nothing. Nothing is added when the statement builds no named index, or the index with that name
 * is valid (it was there before, and the build failed on it).
 */
export async function sayWhatTheBuildLeft(client: pg.ClientBase, statement: string, e: unknown, timeoutMs: number): Promise<void> {
  if (!(e instanceof Error) || classify(e, false) !== "statement" || !/\bconcurrently\b/i.test(statement)) return;
  const row = await indexState(client, statement, timeoutMs).catch(() => null);
  if (!row || row.valid) return;
  const leftover = `the build left the index ${row.name} INVALID: drop it (DROP INDEX CONCURRENTLY ${row.name}) before running the task again`;
  e.message = `${e.message}; ${leftover}`;
  // A canceled run's message is its cancel's reason, not this error's (executors/abort.ts failureOutcome).
  (e as Error & { leftover?: string }).leftover = leftover;
}

/** The index a CREATE INDEX CONCURRENTLY statement names, as it is on the target now; null: none there, or no name. */
async function indexState(client: pg.ClientBase, statement: string, timeoutMs: number): Promise<{ name: string; valid: boolean } | null> {
  await loadStatementParser();
  const index = concurrentIndexName(statement);
  if (!index) return null;
  // Quoted: to_regclass then finds exactly the name the statement gave.
  const name = (index.schema === null ? "" : client.escapeIdentifier(index.schema) + ".") + client.escapeIdentifier(index.name);
  const { rows } = await boundedQuery<{ name: string; valid: boolean }>(
    client,
    "SELECT c.oid::regclass::text AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.oid = to_regclass($1)",
    timeoutMs,
    [name],
  );
  return rows[0] ?? null;
}
