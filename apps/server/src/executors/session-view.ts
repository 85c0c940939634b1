import pg from "pg";
import { withDatabase } from "../db/url.js";
import { runSessionsWhere } from "./session-name.js";
import { boundedQuery, destroySocket, type TargetPools } from "./target-pools.js";
import type { RunRef } from "./types.js";

/**
 * What a running change is doing on its target and who holds it up: the run's own session (found by its
 * application_name, executors/session-name.ts) and the sessions `pg_blocking_pids` names. Read-only by
 * construction: one READ ONLY transaction of two catalog reads, with its own statement_timeout, on a
 * one-off connection with the instance's credentials (a pooled session would take a run's slot).
 */

export interface TargetSession {
  pid: number;
  state: string | null;
  waitEventType: string | null;
  waitEvent: string | null;
  /** Since the session's state last changed (ms, the target's clock). */
  inStateMs: number | null;
}

export interface BlockingSession {
  pid: number;
  user: string | null;
  application: string | null;
  state: string | null;
  /** Age of its open transaction (ms), null outside a transaction. */
  transactionAgeMs: number | null;
  /** What it runs or last ran (first 1000 characters; hidden by the server without the privilege to see it). */
  query: string | null;
}

export interface SessionView {
  /** Null when no session of the run's current epoch is on the target (between statements, or already gone). */
  session: TargetSession | null;
  blockers: BlockingSession[];
}

export interface SessionViewer {
  /** Throws when the target cannot be reached or does not answer within `timeoutMs`. */
  sessionView(run: RunRef, opts: { timeoutMs: number }): Promise<SessionView>;
}

const ms = (interval: string) => `(extract(epoch FROM clock_timestamp() - ${interval}) * 1000)::float8`;

export async function readSessionView(pools: TargetPools, run: RunRef, opts: { timeoutMs: number }): Promise<SessionView> {
  const owner = { installationId: run.installationId, runId: run.id, epoch: run.epoch };
  // This epoch exactly: older epochs' sessions are a fenced zombie's, not the running change.
  const where = `${runSessionsWhere(owner, "up to")} AND NOT (${runSessionsWhere(owner, "older")})`;
  const query = [
    "BEGIN READ ONLY",
    `SET LOCAL statement_timeout = ${Math.max(1, Math.round(opts.timeoutMs))}`,
    `WITH t AS (
      SELECT pid, state, wait_event_type, wait_event, ${ms("state_change")} AS in_state_ms, pg_blocking_pids(pid) AS blocked_by
      FROM pg_stat_activity WHERE ${where} ORDER BY backend_start DESC LIMIT 1)
    SELECT (SELECT row_to_json(t) FROM t) AS session,
      (SELECT coalesce(json_agg(json_build_object('pid', b.pid, 'user', b.usename, 'application', b.application_name,
        'state', b.state, 'transactionAgeMs', CASE WHEN b.xact_start IS NOT NULL THEN ${ms("b.xact_start")} END,
        'query', left(b.query, 1000)) ORDER BY b.xact_start NULLS LAST, b.pid), '[]')
       FROM t, pg_stat_activity b WHERE b.pid = ANY(t.blocked_by)) AS blockers`,
    "COMMIT",
  ].join(";\n");
  const deadline = Date.now() + opts.timeoutMs;
  const client = await pools.connectOnce(withDatabase(run.connectionUrl, run.database), `runway session view ${run.id}`, {
    connectTimeoutMs: opts.timeoutMs,
  });
  try {
    const res = (await boundedQuery(client, query, Math.max(1, deadline - Date.now()))) as unknown as pg.QueryResult[];
    const row = res[2]!.rows[0] as {
      session: {
        pid: number;
        state: string | null;
        wait_event_type: string | null;
        wait_event: string | null;
        in_state_ms: number | null;
      } | null;
      blockers: BlockingSession[];
    };
    const s = row.session;
    return {
      session: s
        ? {
            pid: s.pid,
            state: s.state,
            waitEventType: s.wait_event_type,
            waitEvent: s.wait_event,
            inStateMs: s.in_state_ms === null ? null : Math.round(s.in_state_ms),
          }
        : null,
      blockers: row.blockers.map((b) => ({ ...b, transactionAgeMs: b.transactionAgeMs === null ? null : Math.round(b.transactionAgeMs) })),
    };
  } catch (e) {
    destroySocket(client);
    throw e;
  } finally {
    pools.closeOnce(client);
  }
}
