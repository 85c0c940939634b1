import { sql } from "kysely";
import type { CheckPolicy, DryRun, Finding, RolloutChecks, RuleSetting, Severity, TaskChecks } from "@runway/shared/schemas";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyChange } from "./notify.js";

/** SQL of lint results, the project's check policy, per-task overrides and the checks reads (issue 15). */

export interface LintRow {
  findings: Finding[];
  worst: Severity | null;
  error?: string;
}

export const DEFAULT_POLICY: CheckPolicy = { blockOnLintErrors: false, requireDryRun: false, ruleOverrides: {} };

export async function checkPolicyGet(db: Db, projectId: string): Promise<CheckPolicy> {
  const { rows } = await sql<{ b: boolean; r: boolean; o: Record<string, RuleSetting> }>`
    SELECT block_on_lint_errors AS b, require_dry_run AS r, rule_overrides AS o FROM project_check_policy WHERE project_id = ${projectId}`.execute(
    db,
  );
  const row = rows[0];
  return row ? { blockOnLintErrors: row.b, requireDryRun: row.r, ruleOverrides: row.o } : { ...DEFAULT_POLICY };
}

/** Changes the given fields (one statement); NOT_FOUND for an unknown or deleted project. */
export async function checkPolicyUpdate(db: Db, projectId: string, patch: Partial<CheckPolicy>, now: Date): Promise<CheckPolicy> {
  const { rows } = await sql<{ project_id: string }>`
    INSERT INTO project_check_policy AS p (project_id, block_on_lint_errors, require_dry_run, rule_overrides, updated_at)
    SELECT id, coalesce(${patch.blockOnLintErrors ?? null}::boolean, false), coalesce(${patch.requireDryRun ?? null}::boolean, false),
      coalesce(${patch.ruleOverrides ? JSON.stringify(patch.ruleOverrides) : null}::jsonb, '{}'), ${now}
    FROM project WHERE id = ${projectId} AND NOT deleted
    ON CONFLICT (project_id) DO UPDATE SET
      block_on_lint_errors = coalesce(${patch.blockOnLintErrors ?? null}::boolean, p.block_on_lint_errors),
      require_dry_run = coalesce(${patch.requireDryRun ?? null}::boolean, p.require_dry_run),
      rule_overrides = coalesce(${patch.ruleOverrides ? JSON.stringify(patch.ruleOverrides) : null}::jsonb, p.rule_overrides),
      updated_at = ${now}
    RETURNING project_id`.execute(db);
  if (rows.length === 0) throw new StoreError("NOT_FOUND", `project "${projectId}" not found`);
  return checkPolicyGet(db, projectId);
}

/**
 * Writes (replaces) lint results: `results[i]` for the i-th task, the tasks being `taskIds` or, without
 * them, every task of the rollout in id order (a new rollout's tasks are numbered in creation order). One
 * statement. Each distinct result is stored once (`lint_result`; a 10,000-task rollout repeats its
 * statements) and tasks point at it; a task's own row keeps its worst severity and error, which the
 * checks column, the filter and the policy read, and which replicas of the previous release read too.
 */
export async function taskChecksWriteLint(
  db: Db,
  p: { rolloutId: string; taskIds?: string[]; results: LintRow[]; now: Date },
): Promise<void> {
  if (p.results.length === 0) return;
  const distinct = new Map<string, number>();
  const payloads: string[] = [];
  // Tasks sharing a statement share one result object (lintTasks): each object is serialized once.
  const byObject = new Map<LintRow, number>();
  const refs = p.results.map((r) => {
    let i = byObject.get(r);
    if (i === undefined) {
      // Identical results travel and are stored once; keyed by their JSON (cheap next to the linting).
      const key = JSON.stringify(r);
      i = distinct.get(key);
      if (i === undefined) {
        distinct.set(key, (i = payloads.length));
        payloads.push(key);
      }
      byObject.set(r, i);
    }
    return i + 1;
  });
  const tasks = p.taskIds
    ? sql`SELECT * FROM unnest(${p.taskIds}::bigint[], ${refs}::int[]) AS x(id, ref)`
    : sql`SELECT t.id, x.ref FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM task WHERE rollout_id = ${p.rolloutId}) t
        JOIN unnest(${refs}::int[]) WITH ORDINALITY AS x(ref, n) ON x.n = t.n`;
  await sql`
    WITH r AS (
      -- Ids follow the payloads' order (one sequence, rows inserted ORDER BY n), so the n-th id is payload n.
      INSERT INTO lint_result (rollout_id, findings, worst, lint_error)
      SELECT ${p.rolloutId}, v->'findings', v->>'worst', v->>'error' FROM unnest(${payloads}::jsonb[]) WITH ORDINALITY AS p(v, n)
      ORDER BY n
      RETURNING id, worst, lint_error
    ), rn AS (SELECT id, worst, lint_error, row_number() OVER (ORDER BY id) AS n FROM r)
    INSERT INTO task_check AS c (task_id, rollout_id, findings, worst, lint_error, linted_at, result_id)
    SELECT x.id, ${p.rolloutId}, '[]', rn.worst, rn.lint_error, ${p.now}, rn.id
    FROM (${tasks}) x JOIN rn ON rn.n = x.ref
    ON CONFLICT (task_id) DO UPDATE SET findings = '[]', worst = excluded.worst, lint_error = excluded.lint_error,
      linted_at = excluded.linted_at, result_id = excluded.result_id`.execute(db);
  if (p.taskIds) {
    // Results no task points at any more (linted again) go; a new rollout has none.
    await sql`
      DELETE FROM lint_result l WHERE l.rollout_id = ${p.rolloutId}
        AND NOT EXISTS (SELECT 1 FROM task_check c WHERE c.rollout_id = ${p.rolloutId} AND c.result_id = l.id)`.execute(db);
  }
}

/** The tasks to lint again (all of the rollout's, or `taskIds`), with the project's rule settings. */
export async function taskChecksLintInputs(
  db: Db,
  p: { rolloutId: string; taskIds: string[] | null },
): Promise<{ projectId: string; tasks: { id: string; type: string; statement: string; schemaVersion: string | null }[] }> {
  const ro = await sql<{ project_id: string }>`SELECT project_id FROM rollout WHERE id = ${p.rolloutId}`.execute(db);
  if (!ro.rows[0]) throw new StoreError("NOT_FOUND", `rollout ${p.rolloutId} not found`);
  const { rows } = await sql<{ id: string; type: string; statement: string; schemaVersion: string | null }>`
    SELECT id::text AS id, type, statement, schema_version AS "schemaVersion" FROM task
    WHERE rollout_id = ${p.rolloutId} AND (${p.taskIds}::bigint[] IS NULL OR id = ANY(${p.taskIds}::bigint[])) ORDER BY id`.execute(db);
  if (p.taskIds) {
    const found = new Set(rows.map((r) => r.id));
    const missing = p.taskIds.filter((id) => !found.has(id));
    if (missing.length > 0)
      throw new StoreError("NOT_FOUND", `tasks not found in rollout ${p.rolloutId}: ${missing.join(", ")}`, { taskIds: missing });
  }
  return { projectId: ro.rows[0].project_id, tasks: rows };
}

interface DryRunRow {
  id: string;
  status: DryRun["status"];
  outcome: DryRun["outcome"];
  result: Record<string, unknown> | null;
  requested_by: string;
  created_at: Date;
  finished_at: Date | null;
}

function toDryRun(r: DryRunRow): DryRun {
  const res = (r.result ?? {}) as {
    rowsAffected?: number[];
    durationMs?: number;
    message?: string;
    error?: DryRun["error"];
    alreadyApplied?: boolean;
    byTask?: string;
  };
  return {
    id: r.id,
    status: r.status,
    outcome: r.outcome,
    requestedBy: r.requested_by,
    createdAt: r.created_at.toISOString(),
    finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
    ...(res.rowsAffected ? { rowsAffected: res.rowsAffected } : {}),
    ...(res.durationMs !== undefined ? { durationMs: res.durationMs } : {}),
    ...(res.message ? { message: res.message } : {}),
    ...(res.error ? { error: res.error } : {}),
    ...(res.alreadyApplied ? { alreadyApplied: true } : {}),
    ...(res.byTask ? { byTask: res.byTask } : {}),
  };
}

export type BlockingCheck = TaskChecks["blocking"][number];

/** Pure: what the policy says of a task's checks (an override clears everything). */
export function blockingChecks(
  policy: Pick<CheckPolicy, "blockOnLintErrors" | "requireDryRun">,
  c: { worst: Severity | null | undefined; dryRunOutcome: string | null | undefined; overridden: boolean },
): BlockingCheck[] {
  if (c.overridden) return [];
  const out: BlockingCheck[] = [];
  if (policy.blockOnLintErrors && c.worst === "error") out.push("LINT_ERRORS");
  if (policy.requireDryRun) {
    if (c.dryRunOutcome === "FAILED") out.push("DRY_RUN_FAILED");
    else if (c.dryRunOutcome !== "PASSED" && c.dryRunOutcome !== "CANNOT_DRY_RUN") out.push("DRY_RUN_REQUIRED");
  }
  return out;
}

/** One task's checks: lint, latest dry run, override, and what the policy says now. */
export async function taskChecksGet(db: Db, taskId: string): Promise<(TaskChecks & { projectId: string; rolloutId: string }) | null> {
  const { rows } = await sql<{
    statement: string;
    project_id: string;
    rollout_id: string;
    findings: Finding[] | null;
    worst: Severity | null;
    lint_error: string | null;
    linted_at: Date | null;
    dry: DryRunRow | null;
    ov_by: string | null;
    ov_reason: string | null;
    ov_at: Date | null;
  }>`
    SELECT t.statement, ro.project_id, t.rollout_id::text AS rollout_id, coalesce(lr.findings, c.findings) AS findings, c.worst,
      c.lint_error, c.linted_at,
      (SELECT to_jsonb(d) FROM (SELECT id::text AS id, status, outcome, result, requested_by, created_at, finished_at
         FROM dry_run WHERE task_id = t.id ORDER BY id DESC LIMIT 1) d) AS dry,
      o.overridden_by AS ov_by, o.reason AS ov_reason, o.created_at AS ov_at
    FROM task t JOIN rollout ro ON ro.id = t.rollout_id
    LEFT JOIN task_check c ON c.task_id = t.id
    -- Rows written by the previous release hold their findings themselves (no result_id).
    LEFT JOIN lint_result lr ON lr.id = c.result_id
    LEFT JOIN task_check_override o ON o.task_id = t.id
    WHERE t.id = ${taskId}`.execute(db);
  const r = rows[0];
  if (!r) return null;
  const policy = await checkPolicyGet(db, r.project_id);
  const dry = r.dry
    ? { ...r.dry, created_at: new Date(r.dry.created_at), finished_at: r.dry.finished_at ? new Date(r.dry.finished_at) : null }
    : null;
  return {
    taskId,
    projectId: r.project_id,
    rolloutId: r.rollout_id,
    statement: r.statement,
    lint: r.linted_at
      ? {
          findings: r.findings ?? [],
          worst: r.worst,
          ...(r.lint_error ? { error: r.lint_error } : {}),
          lintedAt: r.linted_at.toISOString(),
        }
      : null,
    dryRun: dry ? toDryRun(dry) : null,
    override: r.ov_by ? { by: r.ov_by, reason: r.ov_reason!, at: r.ov_at!.toISOString() } : null,
    blocking: blockingChecks(policy, { worst: r.worst, dryRunOutcome: dry?.outcome, overridden: r.ov_by !== null }),
  };
}

/** Records an admin's override of the policy for one task (replacing an earlier one). */
export async function taskCheckOverride(db: Db, p: { taskId: string; by: string; reason: string; now: Date }): Promise<void> {
  const { rows } = await sql<{ rollout_id: string }>`
    WITH o AS (
      INSERT INTO task_check_override (task_id, overridden_by, reason, created_at)
      SELECT id, ${p.by}, ${p.reason}, ${p.now} FROM task WHERE id = ${p.taskId}
      ON CONFLICT (task_id) DO UPDATE SET overridden_by = excluded.overridden_by, reason = excluded.reason, created_at = excluded.created_at
      RETURNING task_id
    )
    SELECT t.rollout_id::text AS rollout_id FROM o JOIN task t ON t.id = o.task_id`.execute(db);
  if (!rows[0]) throw new StoreError("NOT_FOUND", `task ${p.taskId} not found`);
  await notifyChange(db, [rows[0].rollout_id]);
}

/** Per task of a rollout: worst lint severity, latest dry-run outcome (or status while active), override. */
async function rolloutTaskChecks(
  db: Db,
  rolloutId: string,
  taskIds: string[] | null,
): Promise<{ taskId: string; worst: Severity | null; linted: boolean; dry: string | null; overridden: boolean }[]> {
  const { rows } = await sql<{ task_id: string; worst: Severity | null; linted: boolean; dry: string | null; overridden: boolean }>`
    SELECT t.id::text AS task_id, c.worst, c.task_id IS NOT NULL AS linted, coalesce(d.outcome, d.status) AS dry, o.task_id IS NOT NULL AS overridden
    FROM task t
    LEFT JOIN task_check c ON c.task_id = t.id
    LEFT JOIN task_check_override o ON o.task_id = t.id
    LEFT JOIN LATERAL (SELECT status, outcome FROM dry_run WHERE task_id = t.id ORDER BY id DESC LIMIT 1) d ON true
    WHERE t.rollout_id = ${rolloutId} AND (${taskIds}::bigint[] IS NULL OR t.id = ANY(${taskIds}::bigint[]))
    ORDER BY t.id`.execute(db);
  return rows.map((r) => ({ taskId: r.task_id, worst: r.worst, linted: r.linted, dry: r.dry, overridden: r.overridden }));
}

/** The rollout's checks summary, null when the rollout does not exist. */
export async function rolloutChecksGet(db: Db, rolloutId: string): Promise<RolloutChecks | null> {
  const ro = await sql<{ project_id: string }>`SELECT project_id FROM rollout WHERE id = ${rolloutId}`.execute(db);
  if (!ro.rows[0]) return null;
  const policy = await checkPolicyGet(db, ro.rows[0].project_id);
  const tasks = await rolloutTaskChecks(db, rolloutId, null);
  const lint = { error: 0, warning: 0, info: 0, clean: 0, unchecked: 0 };
  const dryRun = { queued: 0, running: 0, passed: 0, failed: 0, cannot: 0, lost: 0, none: 0 };
  const dryKey: Record<string, keyof typeof dryRun> = {
    QUEUED: "queued",
    RUNNING: "running",
    PASSED: "passed",
    FAILED: "failed",
    CANNOT_DRY_RUN: "cannot",
    LOST: "lost",
    UNREACHABLE: "failed",
  };
  for (const t of tasks) {
    if (!t.linted) lint.unchecked++;
    else lint[t.worst ?? "clean"]++;
    dryRun[t.dry ? (dryKey[t.dry] ?? "none") : "none"]++;
  }
  return {
    rolloutId,
    lint,
    dryRun,
    tasks: tasks
      .filter((t) => t.worst || t.dry)
      .map((t) => ({ taskId: t.taskId, worst: t.worst, dryRun: t.dry as RolloutChecks["tasks"][number]["dryRun"] })),
    policy: { blockOnLintErrors: policy.blockOnLintErrors, requireDryRun: policy.requireDryRun },
  };
}

/**
 * The tasks of a run request that the project's check policy refuses, each with its failing checks (empty
 * when every task may run, or when the project has no policy).
 */
export async function checksPolicyRefusals(
  db: Db,
  p: { rolloutId: string; taskIds: string[] },
): Promise<{ taskId: string; failing: BlockingCheck[] }[]> {
  const ro = await sql<{ project_id: string }>`SELECT project_id FROM rollout WHERE id = ${p.rolloutId}`.execute(db);
  if (!ro.rows[0]) return [];
  const policy = await checkPolicyGet(db, ro.rows[0].project_id);
  if (!policy.blockOnLintErrors && !policy.requireDryRun) return [];
  const tasks = await rolloutTaskChecks(db, p.rolloutId, p.taskIds);
  return tasks
    .map((t) => ({ taskId: t.taskId, failing: blockingChecks(policy, { worst: t.worst, dryRunOutcome: t.dry, overridden: t.overridden }) }))
    .filter((t) => t.failing.length > 0);
}
