import { isStatementErrorCode } from "@runway/server/executors";
import type { CheckResult } from "../facts.js";
import { DELIBERATE_FAILURE } from "../statements.js";
import type { CheckContext } from "./context.js";

const ACTIVE = new Set(["PENDING", "AVAILABLE", "RUNNING"]);

/**
 * 1. No loss: every task not deliberately canceled or failed is DONE and its change is really in the
 * target; deliberate failures are FAILED with their own error and changed nothing; a canceled task (a
 * cancel target, or a ladder step the harness canceled after the burst) changed nothing; no run is left
 * PENDING, AVAILABLE or RUNNING.
 */
export function checkNoLoss(c: CheckContext): CheckResult {
  const v: string[] = [];
  for (const r of c.facts.runs) if (ACTIVE.has(r.status)) v.push(`run ${r.id} (task ${r.taskId}) is still ${r.status}`);
  const ledgerTasks = new Set(c.facts.ledger.map((l) => l.taskId));
  let done = 0,
    failedAsMeant = 0,
    canceled = 0,
    cancelLostRace = 0,
    failedSafely = 0;
  const ballast = c.w.tasks.filter((t) => t.kind === "ballast").length;
  for (const t of c.w.tasks) {
    const id = c.s.taskIdByKey.get(t.key)!;
    const task = c.taskById.get(id);
    const status = task?.status ?? "MISSING";
    const applied = t.kind === "create" ? c.facts.databases.has(t.database) : ledgerTasks.has(id);
    const changed = t.kind === "schema" || t.kind === "sdl" ? c.facts.schemaApplied.has(t.key) : (c.facts.dataRows.get(t.key) ?? 0) > 0;
    const journaled = (c.committedByMarker.get(t.key)?.length ?? 0) > 0;
    const what = `task ${id} (${t.key}, ${t.kind} on ${t.database})`;
    if (t.kind === "fail") {
      const msg = c.latestRun(id)?.result?.error?.message ?? "";
      if (status !== "FAILED" || !msg.includes(DELIBERATE_FAILURE))
        v.push(`${what} should have FAILED deliberately; it is ${status} (${msg || "no error"})`);
      else failedAsMeant++;
      if (applied || journaled) v.push(`${what} failed but its change is in the target`);
      continue;
    }
    if (t.kind === "ballast") {
      if (status !== "CANCELED" || applied || journaled) v.push(`${what} (ballast) should be CANCELED and unapplied; it is ${status}`);
      continue;
    }
    if ((t.kind === "cancel" || t.ladder) && status === "CANCELED") {
      canceled++;
      if (applied || journaled || changed) v.push(`${what} was CANCELED but its change is in the target`);
      continue;
    }
    // A statement that cannot run in a transaction (an index built CONCURRENTLY) is never re-run: when a
    // fault takes its session before anything can confirm it finished, and the target's ledger has no row,
    // it ends FAILED (issue 10, rule 2). Only a session loss may end it so, never the statement's own error:
    // a socket's or our own code, or a SQLSTATE of a session ended under it (57P01 when the target shuts
    // down), as the executor classifies them.
    const err = c.latestRun(id)?.result?.error;
    if (t.kind === "cic" && status === "FAILED" && !applied && !isStatementErrorCode(err?.code)) {
      failedSafely++;
      continue;
    }
    if (status !== "DONE") {
      const msg = c.latestRun(id)?.result?.error?.message;
      v.push(`${what} is ${status}${msg ? `: ${msg}` : ""}`);
      continue;
    }
    done++;
    if (t.kind === "cancel") cancelLostRace++;
    if (!applied) v.push(`${what} is DONE but the target has no ${t.kind === "create" ? "database" : "ledger row"}`);
    if (["schema", "sdl", "data", "cancel"].includes(t.kind) && !(journaled && changed)) {
      v.push(`${what} is DONE but its change is missing (journal ${journaled}, change ${changed})`);
    }
  }
  return {
    name: "1. No loss",
    ok: v.length === 0,
    detail: `${c.w.tasks.length - ballast} tasks: ${done} DONE (${cancelLostRace} cancel targets finished first), ${failedAsMeant} FAILED on purpose, ${failedSafely} not re-runnable FAILED after their session was lost, ${canceled} CANCELED${ballast ? ` (+${ballast} ballast CANCELED)` : ""}`,
    violations: v,
  };
}

/**
 * 2. No repeat: each statement applied at most once — one committed journal row, one ledger row, one data
 * row per task — and journal and ledger agree on task, run and attempt.
 */
export function checkNoRepeat(c: CheckContext): CheckResult {
  const v: string[] = [];
  const ledgerByTask = new Map<string, number>();
  const ledgerByRun = new Map(c.facts.ledger.map((l) => [l.runId, l]));
  for (const l of c.facts.ledger) ledgerByTask.set(l.taskId, (ledgerByTask.get(l.taskId) ?? 0) + 1);
  for (const [taskId, n] of ledgerByTask) if (n > 1) v.push(`task ${taskId} has ${n} ledger rows`);
  let journaled = 0;
  for (const [marker, rows] of c.committedByMarker) {
    journaled++;
    if (rows.length > 1) {
      v.push(`${marker} applied ${rows.length} times: ${rows.map((j) => `run ${j.runId} epoch ${j.epoch} by ${j.replica}`).join("; ")}`);
    }
    for (const j of rows) {
      const ledger = ledgerByRun.get(j.runId);
      const taskId = c.s.taskIdByKey.get(marker);
      if (!ledger) v.push(`${marker}: journal row of run ${j.runId} has no ledger row`);
      else if (ledger.taskId !== taskId || j.taskId !== taskId || ledger.attempt !== j.attempt) {
        v.push(
          `${marker}: journal (task ${j.taskId}, attempt ${j.attempt}) and ledger (task ${ledger.taskId}, attempt ${ledger.attempt}) disagree; expected task ${taskId}`,
        );
      }
    }
  }
  for (const l of c.facts.ledger) {
    const plan = c.planByTaskId.get(l.taskId);
    if (plan && plan.kind !== "nontx" && plan.kind !== "cic" && !c.committedByMarker.has(plan.key))
      v.push(`task ${l.taskId} (${plan.key}) is in the ledger but not in the journal`);
  }
  for (const [marker, n] of c.facts.dataRows) if (n > 1) v.push(`${marker} inserted ${n} data rows`);
  return {
    name: "2. No repeat",
    ok: v.length === 0,
    detail: `${journaled} journaled statements, ${c.facts.ledger.length} ledger rows`,
    violations: v,
  };
}
