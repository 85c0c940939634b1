import { createHash } from "node:crypto";
import pg from "pg";
import type { ClaimedRun } from "../store/runs.js";
import { boundedQuery } from "./target-pools.js";

/**
 * The target's `runway_ledger`: one row per (installation, task) applied, written in the same
 * transaction as a transactional statement (right after it for the others). A task recorded there is
 * never applied again, which makes re-running after failover safe, and a reconcile reads it.
 */

const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS public.runway_ledger (
  installation_id uuid NOT NULL,
  task_id bigint NOT NULL,
  attempt integer NOT NULL,
  run_id bigint NOT NULL,
  schema_version text,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, task_id)
)`;
/** Serializes first-time ledger creation on a target (concurrent CREATE … IF NOT EXISTS can collide). */
const LEDGER_LOCK = 7_301_003;

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-f-]{36}$/i;

/** Literal SQL for the run's identity; every value comes from our own database, checked all the same. */
export function ledgerIds(run: ClaimedRun): { installation: string; task: string; run: string; attempt: number } {
  if (!UUID.test(run.installationId) || !DIGITS.test(run.taskId) || !DIGITS.test(run.id))
    throw new Error(`malformed run identity ${run.id}`);
  return { installation: `'${run.installationId}'`, task: run.taskId, run: run.id, attempt: Math.trunc(run.attempt) };
}

const checksum = (run: ClaimedRun) => createHash("sha256").update(run.statement).digest("hex");

export async function ledgerEnsure(client: pg.ClientBase, timeoutMs: number): Promise<void> {
  await boundedQuery(client, `BEGIN; SELECT pg_advisory_xact_lock(${LEDGER_LOCK}); ${LEDGER_DDL}; COMMIT`, timeoutMs);
}

/** The INSERT of the run's row as literal SQL, to ride in the same simple-protocol query as the statement. */
export function ledgerInsertSql(run: ClaimedRun): string {
  const id = ledgerIds(run);
  const version = run.schemaVersion === null ? "NULL" : pg.escapeLiteral(run.schemaVersion);
  return `INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum) VALUES (${id.installation}, ${id.task}, ${id.attempt}, ${id.run}, ${version}, '${checksum(run)}')`;
}

/** Records a statement that ran outside a transaction, after it succeeded. */
export async function ledgerRecord(client: pg.ClientBase, run: ClaimedRun, timeoutMs: number): Promise<void> {
  await boundedQuery(
    client,
    `INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    timeoutMs,
    [run.installationId, run.taskId, run.attempt, run.id, run.schemaVersion, checksum(run)],
  );
}

export function ledgerLookupSql(run: ClaimedRun): string {
  const id = ledgerIds(run);
  return `SELECT 1 FROM public.runway_ledger WHERE installation_id = ${id.installation} AND task_id = ${id.task}`;
}

/** Who applied the task before: the message of a ledger hit. */
export async function ledgerHitMessage(client: pg.ClientBase, run: ClaimedRun, timeoutMs: number): Promise<string> {
  const id = ledgerIds(run);
  const { rows } = await boundedQuery<{ attempt: number; applied_at: Date }>(
    client,
    `SELECT attempt, applied_at FROM public.runway_ledger WHERE installation_id = ${id.installation} AND task_id = ${id.task}`,
    timeoutMs,
  );
  const row = rows[0];
  return row
    ? `already applied by attempt ${row.attempt} at ${row.applied_at.toISOString()}; not applied again`
    : "applied concurrently by another attempt; not applied again";
}
