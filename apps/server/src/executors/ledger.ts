import { createHash } from "node:crypto";
import pg from "pg";
import type { ClaimedRun } from "../store/runs.js";
import type { ExecOutcome } from "./types.js";
import { boundedQuery } from "./target-pools.js";
import { contentChecksums } from "../domain/release-files.js";

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

/** Literal SQL for a task's ledger key; both values come from our own database, checked all the same. */
function ledgerTaskKey(t: Pick<ClaimedRun, "installationId" | "taskId">): { installation: string; task: string } {
  if (!UUID.test(t.installationId) || !DIGITS.test(t.taskId)) throw new Error(`malformed ledger key of task ${t.taskId}`);
  return { installation: `'${t.installationId}'`, task: t.taskId };
}

/** Literal SQL for the run's identity; every value comes from our own database, checked all the same. */
export function ledgerIds(run: ClaimedRun): { installation: string; task: string; run: string; attempt: number } {
  if (!DIGITS.test(run.id)) throw new Error(`malformed run identity ${run.id}`);
  return { ...ledgerTaskKey(run), run: run.id, attempt: Math.trunc(run.attempt) };
}

/** The ledger's checksum of a statement: SHA-256 of its exact text. */
export const ledgerChecksum = (statement: string): string => createHash("sha256").update(statement).digest("hex");
const checksum = (run: ClaimedRun) => ledgerChecksum(run.statement);

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

/**
 * A versioned task (VERSION: every task created with a schema version) and a release's unversioned file
 * (CONTENT) are applied once per database, whoever brought them there: another rollout, another
 * installation, a person (a release's plan, made from a ledger snapshot, may also be stale). So the run
 * checks the target's ledger itself, inside its transaction: a VERSION task is skipped when the ledger
 * records its version (versions compare as versions: 1.2 = 1_2 = 01.2) under another task, a CONTENT task
 * when it records the same checksum. An advisory lock held to the end of the transaction serializes such
 * checks per database, so two runs of one version never both pass. A dry run asks the same (dry-run.ts).
 */
export const LEDGER_APPLY_ONCE_HIT = "RWV01";
const APPLY_ONCE_LOCK = 7_301_004;
const VERSION_CHARS = /^[A-Za-z0-9._-]{1,100}$/;

/** A version in the canonical form the ledger check compares (numeric parts without leading zeros, "."-joined). */
export function canonicalVersion(v: string): string {
  return v
    .split(/[._-]/)
    .map((p) => (/^[0-9]+$/.test(p) ? p.replace(/^0+(?=.)/, "") : p))
    .join(".");
}

/** The same canonical form in SQL, of the ledger's `schema_version`. */
const CANONICAL_SQL = `array_to_string(ARRAY(SELECT CASE WHEN p ~ '^[0-9]+$' THEN coalesce(nullif(ltrim(p, '0'), ''), '0') ELSE p END
  FROM unnest(regexp_split_to_array(schema_version, '[._-]')) WITH ORDINALITY AS x(p, o) ORDER BY o), '.')`;

/** What the apply-once check reads of a run, or of a claimed dry run of its task (null: not applied once). */
export type ApplyOnceSubject = Pick<ClaimedRun, "installationId" | "taskId" | "statement" | "schemaVersion"> & {
  applyOnce?: ClaimedRun["applyOnce"] | null;
};

/** The ledger rows that make this run's change already applied, as a WHERE clause (literals only). */
function applyOnceWhere(run: ApplyOnceSubject): string | null {
  if (!run.applyOnce) return null;
  const id = ledgerTaskKey(run);
  const notThisTask = `NOT (installation_id = ${id.installation} AND task_id = ${id.task})`;
  // Hex digests only (contentChecksums): safe as literals.
  if (run.applyOnce === "CONTENT")
    return `checksum IN (${contentChecksums(run.statement)
      .map((c) => `'${c}'`)
      .join(", ")}) AND ${notThisTask}`;
  if (run.applyOnce === "VERSION" && run.schemaVersion !== null) {
    if (!VERSION_CHARS.test(run.schemaVersion)) throw new Error(`malformed schema version of task ${run.taskId}`);
    return `schema_version IS NOT NULL AND ${CANONICAL_SQL} = '${canonicalVersion(run.schemaVersion)}' AND ${notThisTask}`;
  }
  return null;
}

/**
 * Statements for the run's transaction, before its ledger row: the lock, then an error with SQLSTATE
 * LEDGER_APPLY_ONCE_HIT when the change is already applied. None for other runs. A ledger that does not
 * exist yet holds nothing (its creation is the ledger insert's business).
 */
export function ledgerApplyOnceSql(run: ClaimedRun): string[] {
  const where = applyOnceWhere(run);
  if (!where) return [];
  return [
    `SELECT pg_advisory_xact_lock(${APPLY_ONCE_LOCK})`,
    `DO $runway$ BEGIN
  IF to_regclass('public.runway_ledger') IS NOT NULL THEN
    IF EXISTS (SELECT 1 FROM public.runway_ledger WHERE ${where}) THEN
      RAISE EXCEPTION 'runway: already applied on this database by another task' USING ERRCODE = '${LEDGER_APPLY_ONCE_HIT}';
    END IF;
  END IF;
END $runway$`,
  ];
}

export interface ApplyOnceHit {
  taskId: string;
  schemaVersion: string | null;
  sameContent: boolean;
  appliedAt: Date;
}

/** The ledger row that makes the run's change applied (the earliest), or null (none, or not such a run). */
export async function ledgerApplyOnceHit(client: pg.ClientBase, run: ApplyOnceSubject, timeoutMs: number): Promise<ApplyOnceHit | null> {
  const where = applyOnceWhere(run);
  if (!where) return null;
  let rows: { task_id: string; schema_version: string | null; checksum: string; applied_at: Date }[];
  try {
    ({ rows } = await boundedQuery(
      client,
      `SELECT task_id::text, schema_version, checksum, applied_at FROM public.runway_ledger WHERE ${where} ORDER BY applied_at LIMIT 1`,
      timeoutMs,
    ));
  } catch (e) {
    if ((e as { code?: string }).code === "42P01") return null;
    throw e;
  }
  const row = rows[0];
  if (!row) return null;
  // Other line ends are the same content (a file checked out on Windows and on Linux).
  const sameContent = contentChecksums(run.statement).includes(row.checksum);
  return { taskId: row.task_id, schemaVersion: row.schema_version, sameContent, appliedAt: row.applied_at };
}

/**
 * What a run does on an apply-once hit (the plan's snapshot was stale): never applied twice. The same
 * content is DONE, as a ledger hit; other content under the same version FAILs, as the planner flags a
 * changed file. Either way the statement was never sent.
 */
export function applyOnceOutcome(run: ApplyOnceSubject, hit: ApplyOnceHit): ExecOutcome {
  const what = run.applyOnce === "VERSION" ? `version ${run.schemaVersion}` : "this content";
  const by = `by task ${hit.taskId} at ${hit.appliedAt.toISOString()}`;
  if (hit.sameContent) {
    const message = `${what} is already applied on this database ${by}; not applied again`;
    return { status: "DONE", result: { alreadyApplied: true, rowsAffected: 0, byTask: hit.taskId }, message, notStarted: true };
  }
  const message = `${what} was applied on this database with other content ${by}; not applied (this task's statement differs from what ran there: give the change a new version)`;
  return {
    status: "FAILED",
    result: { error: { code: "VERSION_APPLIED_WITH_OTHER_CONTENT", message }, byTask: hit.taskId },
    message,
    notStarted: true,
  };
}
