import { sql } from "kysely";
import type { BulkAction, BulkResult, TaskFilter } from "@runway/shared/schemas";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyChange } from "./notify.js";
import { taskFilterSql } from "./task-filter.js";
import { checksPolicyRefusals } from "./task-checks.js";
import { tasksSkipLocked, taskRunsRequestCancel } from "./task-actions.js";
import { taskRunsCancelNow, taskRunsCreate } from "./transitions/api.js";

/**
 * Bulk actions, best-effort per task: one transaction resolves the target (ids, or every task matching a
 * filter — resolved here, so no client splits or races a stale list), decides each task on its state
 * under the row lock, acts on those that allow it and reports every task: CHANGED, ALREADY (in the wanted
 * state), or NOT_ALLOWED with a reason. `atomic` restores all-or-nothing; `dryRun` only decides.
 */

export interface BulkParams {
  rolloutId: string;
  action: BulkAction;
  taskIds?: string[];
  filter?: TaskFilter;
  runAt: Date | null;
  reason: string;
  atomic: boolean;
  dryRun: boolean;
  actor: string;
  now: Date;
  replicaId: string | null;
}

const ACTIVE = new Set(["PENDING", "AVAILABLE", "RUNNING"]);
/** What each action wants from a task status: act, or it is there already. Anything else is NOT_ALLOWED. */
const RULES: Record<BulkAction, { act: Set<string>; already: Set<string> }> = {
  run: { act: new Set(["NOT_STARTED"]), already: new Set([...ACTIVE, "DONE"]) },
  schedule: { act: new Set(["NOT_STARTED"]), already: new Set(ACTIVE) },
  retry: { act: new Set(["FAILED", "CANCELED"]), already: new Set(ACTIVE) },
  skip: { act: new Set(["NOT_STARTED", "FAILED", "CANCELED"]), already: new Set(["SKIPPED"]) },
  cancel: { act: new Set(ACTIVE), already: new Set(["CANCELED"]) },
};

function target(p: BulkParams) {
  return p.taskIds ? sql`t.id = ANY(${p.taskIds}::bigint[])` : taskFilterSql(p.rolloutId, p.filter ?? {});
}

function notFound(p: BulkParams, found: Set<string>): BulkResult[] {
  return (p.taskIds ?? []).filter((id) => !found.has(id)).map((taskId) => ({ taskId, result: "NOT_ALLOWED", reason: "NOT_FOUND" }));
}

export async function tasksBulk(db: Db, p: BulkParams): Promise<BulkResult[]> {
  return db.transaction().execute(async (trx) => {
    // Row locks hold up finishing runs and lease renewals: a replica frozen in here must not keep them.
    await sql`SELECT set_config('idle_in_transaction_session_timeout', '2000', true)`.execute(trx);
    const results = p.action === "cancel" ? await cancel(trx, p) : await createOrSkip(trx, p);
    results.sort((a, b) => (BigInt(a.taskId) < BigInt(b.taskId) ? -1 : 1));
    if (p.atomic && results.some((r) => r.result === "NOT_ALLOWED")) {
      throw new StoreError("CONFLICT", "some tasks do not allow the action now; nothing was changed", {
        results: results.filter((r) => r.result === "NOT_ALLOWED"),
      });
    }
    return results;
  });
}

/** run, schedule, retry, skip: decided on the task row, locked (the order every run creation locks in). */
async function createOrSkip(trx: Db, p: BulkParams): Promise<BulkResult[]> {
  const { rows } = await sql<{ id: string; status: string }>`
    SELECT t.id::text, t.status FROM task t WHERE t.rollout_id = ${p.rolloutId} AND ${target(p)} ORDER BY t.id FOR UPDATE`.execute(trx);
  const rule = RULES[p.action];
  const out: BulkResult[] = notFound(p, new Set(rows.map((r) => r.id)));
  let eligible = rows.filter((r) => rule.act.has(r.status));
  if (p.action !== "skip" && eligible.length > 0) {
    // The project's check policy (issue 15) refuses runs of tasks that fail their checks, whichever way
    // the run is asked for: each refused task is NOT_ALLOWED with CHECKS_FAILED and its failing checks.
    const refused = new Map(
      (await checksPolicyRefusals(trx, { rolloutId: p.rolloutId, taskIds: eligible.map((r) => r.id) })).map((x) => [x.taskId, x.failing]),
    );
    for (const r of eligible) {
      const failing = refused.get(r.id);
      if (failing) out.push({ taskId: r.id, status: r.status as never, result: "NOT_ALLOWED", reason: "CHECKS_FAILED", failing });
    }
    eligible = eligible.filter((r) => !refused.has(r.id));
  }
  for (const r of rows) {
    if (rule.act.has(r.status)) continue;
    out.push({
      taskId: r.id,
      status: r.status as never,
      result: rule.already.has(r.status) ? "ALREADY" : "NOT_ALLOWED",
      ...(rule.already.has(r.status) ? {} : { reason: "STATUS" }),
    });
  }
  const ids = eligible.map((r) => r.id);
  if (p.dryRun || ids.length === 0) {
    return [...out, ...eligible.map((r) => ({ taskId: r.id, status: r.status as never, result: "CHANGED" as const }))];
  }
  if (p.action === "skip") {
    await tasksSkipLocked(trx, { rolloutId: p.rolloutId, taskIds: ids, reason: p.reason, now: p.now });
    return [...out, ...ids.map((taskId) => ({ taskId, status: "SKIPPED" as const, result: "CHANGED" as const }))];
  }
  const runAt = p.action === "schedule" && p.runAt && p.runAt.getTime() > p.now.getTime() ? p.runAt : null;
  const created = await taskRunsCreate(trx, { rolloutId: p.rolloutId, taskIds: ids, runAt, actor: p.actor, now: p.now });
  for (const c of created) {
    // Locked above and eligible, so each gets its run; anything else would be a bug worth seeing.
    if (!c.run_id) throw new Error(`task ${c.task_id} (${c.status}) got no run`);
    out.push({ taskId: c.task_id, status: "PENDING", result: "CHANGED", taskRunId: c.run_id });
  }
  return out;
}

/**
 * cancel: decided on the run row, locked first (the order a finishing owner locks in: run, then task), and
 * read after the lock — a run that finished meanwhile is reported as it ended, not canceled.
 */
async function cancel(trx: Db, p: BulkParams): Promise<BulkResult[]> {
  const { rows: tasks } = await sql<{ id: string; status: string; run_id: string | null }>`
    SELECT t.id::text, t.status, (SELECT r.id::text FROM task_run r WHERE r.task_id = t.id ORDER BY r.attempt DESC LIMIT 1) AS run_id
    FROM task t WHERE t.rollout_id = ${p.rolloutId} AND ${target(p)} ORDER BY t.id`.execute(trx);
  const runIds = tasks.filter((t) => t.run_id && ACTIVE.has(t.status)).map((t) => t.run_id!);
  const { rows: runs } = await sql<{ id: string; status: string; requested: boolean }>`
    SELECT id::text, status, cancel_requested_at IS NOT NULL AS requested FROM task_run
    WHERE id = ANY(${runIds}::bigint[]) ORDER BY id FOR UPDATE`.execute(trx);
  const runById = new Map(runs.map((r) => [r.id, r]));
  const out: BulkResult[] = notFound(p, new Set(tasks.map((t) => t.id)));
  const now: string[] = [];
  const running: string[] = [];
  for (const t of tasks) {
    const run = t.run_id ? runById.get(t.run_id) : undefined;
    const status = run?.status ?? t.status;
    if (run && (status === "PENDING" || status === "AVAILABLE")) {
      now.push(run.id);
      out.push({ taskId: t.id, status: p.dryRun ? (status as never) : "CANCELED", result: "CHANGED", taskRunId: run.id });
    } else if (run && status === "RUNNING" && !run.requested) {
      running.push(run.id);
      out.push({ taskId: t.id, status: "RUNNING", result: "CHANGED", taskRunId: run.id, cancelRequested: true });
    } else if (status === "RUNNING" || status === "CANCELED") {
      out.push({
        taskId: t.id,
        status: status as never,
        result: "ALREADY",
        ...(run ? { taskRunId: run.id, cancelRequested: status === "RUNNING" } : {}),
      });
    } else {
      out.push({ taskId: t.id, status: status as never, result: "NOT_ALLOWED", reason: "STATUS" });
    }
  }
  if (p.dryRun) return out;
  await taskRunsCancelNow(trx, { runIds: now, actor: p.actor, now: p.now, replicaId: p.replicaId });
  await taskRunsRequestCancel(trx, { runIds: running, actor: p.actor, now: p.now, replicaId: p.replicaId });
  if (now.length + running.length > 0) await notifyChange(trx, [p.rolloutId]);
  return out;
}
