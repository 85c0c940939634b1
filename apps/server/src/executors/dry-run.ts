import pg from "pg";
import { withDatabase } from "../db/url.js";
import { applyOnceOutcome, ledgerApplyOnceHit, type ApplyOnceHit, type ApplyOnceSubject } from "./ledger.js";
import { classify, errorResult } from "./target-errors.js";
import { TargetRefusedError } from "./target-guard.js";
import { boundedQuery, SESSION_RESET_SQL, type TargetPools } from "./target-pools.js";

/**
 * A dry run: the task's statement inside `BEGIN; SET LOCAL lock_timeout …; SET LOCAL statement_timeout …;
 * <statement>; ROLLBACK` on its target, with the instance's credentials, on the executor's pooled sessions
 * (so through the target guard). It never commits and never writes the ledger: the statement and the
 * settings go in one simple-protocol query that starts with BEGIN, and ROLLBACK always follows. A task
 * cannot hold transaction control (creation refuses BEGIN/COMMIT; a COMMIT inside a procedure or DO
 * block fails in a transaction block), so nothing in it can end the transaction early.
 *
 * What a rollback cannot undo, a dry run cannot either: sequence increments, and anything a function does
 * outside the database (dblink, notifications are dropped on rollback).
 */

export interface DryRunJob {
  id: string;
  database: string;
  statement: string;
  /** The instance's connection URL: as stored (sealed) for DryRunner.dryRun, opened for dryRunOn. */
  connectionUrl: string;
  /** A task that is applied once (a versioned one): the target's ledger is asked first, as its run asks it. */
  applyOnce?: ApplyOnceSubject;
}

export type DryRunResult =
  | {
      outcome: "PASSED";
      result: { rowsAffected?: number[]; durationMs: number; message: string; alreadyApplied?: true; byTask?: string };
    }
  | {
      outcome: "FAILED";
      result: { error: { code?: string; message: string; position?: number }; durationMs: number; message: string; byTask?: string };
    }
  | { outcome: "UNREACHABLE"; result: { error: { code?: string; message: string }; message: string } };

/** Runs dry runs on targets. PostgresExecutor is one (its pools, its guard, its secrets). */
export interface DryRunner {
  dryRun(job: DryRunJob, opts: DryRunSettings): Promise<DryRunResult>;
}

export interface DryRunSettings {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  /** Client-side margin on top of the statement bound, and the bound on ROLLBACK; default 10 s. */
  queryTimeoutMs?: number;
}

const rowCounts = (res: pg.QueryResult | pg.QueryResult[]): number[] => (Array.isArray(res) ? res : [res]).map((r) => r.rowCount ?? 0);

export async function dryRunOn(pools: TargetPools, job: DryRunJob, s: DryRunSettings): Promise<DryRunResult> {
  const queryTimeoutMs = s.queryTimeoutMs ?? 10_000;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let client: pg.PoolClient;
  try {
    client = await pools.acquire(withDatabase(job.connectionUrl, job.database));
  } catch (e) {
    if (e instanceof TargetRefusedError) {
      return { outcome: "FAILED", result: { error: { code: e.code, message: e.message }, durationMs: elapsed(), message: e.message } };
    }
    const error = errorResult(e).error as { code?: string; message: string };
    return { outcome: "UNREACHABLE", result: { error, message: `the target could not be reached: ${error.message}` } };
  }
  const parts = [
    "BEGIN",
    `SET LOCAL application_name = ${pg.escapeLiteral(`runway dry run ${job.id}`)}`,
    `SET LOCAL lock_timeout = ${Math.max(1, Math.round(s.lockTimeoutMs))}`,
    `SET LOCAL statement_timeout = ${Math.max(1, Math.round(s.statementTimeoutMs))}`,
    // A session left behind (our end gone) ends by itself soon after: it holds the statement's locks.
    `SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1000, Math.round(s.statementTimeoutMs))}`,
  ];
  const prefix = parts.join(";\n") + ";\n";
  const statements = job.statement.match(/;/g)?.length ?? 0;
  let broken = false;
  try {
    // What the run would find first: a change the ledger has is never sent, so neither is its dry run.
    const hit = job.applyOnce ? await ledgerApplyOnceHit(client, job.applyOnce, queryTimeoutMs) : null;
    if (hit) return appliedBefore(job.applyOnce!, hit, elapsed());
    const res = await boundedQuery(client, prefix + job.statement, s.statementTimeoutMs * (statements + 1) + queryTimeoutMs);
    const rowsAffected = rowCounts(res).slice(parts.length);
    const durationMs = elapsed();
    const total = rowsAffected.reduce((a, b) => a + b, 0);
    return {
      outcome: "PASSED",
      result: { rowsAffected, durationMs, message: `would affect ${total} row(s) in ${durationMs} ms; rolled back` },
    };
  } catch (e) {
    if (classify(e, false) === "session") {
      broken = true;
      const error = errorResult(e).error as { code?: string; message: string };
      return { outcome: "UNREACHABLE", result: { error, message: `the target session was lost: ${error.message}` } };
    }
    const err = e as pg.DatabaseError;
    const pos = err.position ? Number(err.position) - prefix.length : undefined;
    const error = {
      ...(err.code ? { code: err.code } : {}),
      message: err.message,
      ...(pos !== undefined && pos > 0 ? { position: pos } : {}),
    };
    const what = err.code === "55P03" ? "lock timeout" : err.code === "57014" ? "statement timeout" : `error ${err.code}`;
    return { outcome: "FAILED", result: { error, durationMs: elapsed(), message: `${what}: ${err.message}` } };
  } finally {
    if (!broken) {
      // Always: after success (the point of a dry run) and after an error (the transaction is aborted). A
      // rollback does not undo everything (a session advisory lock, PREPARE): the session's reset rides along.
      await boundedQuery(client, `ROLLBACK;\n${SESSION_RESET_SQL}`, queryTimeoutMs).catch(() => (broken = true));
    }
    pools.release(client, broken, !broken);
  }
}

/** A dry run of a change the target's ledger already has: what its run would end with, nothing executed. */
function appliedBefore(subject: ApplyOnceSubject, hit: ApplyOnceHit, durationMs: number): DryRunResult {
  const run = applyOnceOutcome(subject, hit);
  if (run.status === "DONE")
    return { outcome: "PASSED", result: { durationMs, message: run.message, alreadyApplied: true, byTask: hit.taskId } };
  const { error } = run.result as { error: { code: string; message: string } };
  return { outcome: "FAILED", result: { error, durationMs, message: run.message, byTask: hit.taskId } };
}
