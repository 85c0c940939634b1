import { defineStore } from "pinia";
import { ref } from "vue";
import { tasksBulk, type BulkTarget, type Task } from "@/api";
import type { BulkAction, BulkResult, BulkResults } from "@/api/types";
import type { TaskAction } from "@/lib/task-actions";
import { useRolloutStore } from "./rollout";

/** One line of the report shown after an action: the task and what the server did to it, and why not. */
export interface OutcomeRow {
  taskId: string;
  /** CREATED, CANCELED, CANCEL_REQUESTED, SKIPPED when changed; ALREADY; NOT_ALLOWED. */
  outcome: string;
  /** The outcome changed something. */
  changed: boolean;
  status?: string;
  reason?: string;
  /** CHECKS_FAILED: the failing checks. */
  failing?: string[];
}

export interface OutcomeReport {
  action: TaskAction;
  rows: OutcomeRow[];
}

function outcomeOf(action: BulkAction, r: BulkResult): string {
  if (r.result !== "CHANGED") return r.result;
  if (action === "cancel") return r.cancelRequested ? "CANCEL_REQUESTED" : "CANCELED";
  return action === "skip" ? "SKIPPED" : "CREATED";
}

const bulkAction = (action: TaskAction, runAt?: Date): BulkAction => (action === "run" && runAt ? "schedule" : action);

/** Tasks given as objects are sent as their ids; the server decides each one under its row lock. */
const toTarget = (target: readonly Task[] | BulkTarget): BulkTarget =>
  Array.isArray(target) ? { taskIds: (target as readonly Task[]).map((t) => t.id) } : (target as BulkTarget);

/**
 * Runs, schedules, retries, cancels and skips tasks of the open rollout, in one request whatever the size
 * (no client-side chunks to half-fail): the server acts best-effort per task and says what happened to each,
 * which becomes `report`. `preview` asks the same question without acting (the dialog's counts).
 */
export const useTaskActionsStore = defineStore("taskActions", () => {
  const busy = ref(false);
  const report = ref<OutcomeReport | null>(null);

  async function preview(
    action: TaskAction,
    target: readonly Task[] | BulkTarget,
    opts: { runAt?: Date } = {},
  ): Promise<BulkResults | null> {
    const rolloutId = useRolloutStore().rolloutId;
    const t = toTarget(target);
    if (!rolloutId || ("taskIds" in t && t.taskIds.length === 0)) return null;
    const res = await tasksBulk(rolloutId, {
      action: bulkAction(action, opts.runAt),
      ...t,
      dryRun: true,
      ...(action === "skip" ? { reason: "-" } : {}),
      ...(opts.runAt ? { runAt: opts.runAt.toISOString() } : {}),
    });
    return res;
  }

  async function perform(action: TaskAction, target: readonly Task[] | BulkTarget, opts: { runAt?: Date; reason?: string } = {}) {
    const rollout = useRolloutStore();
    const rolloutId = rollout.rolloutId;
    const t = toTarget(target);
    if (!rolloutId || ("taskIds" in t && t.taskIds.length === 0)) return null;
    busy.value = true;
    try {
      const act = bulkAction(action, opts.runAt);
      const res = await tasksBulk(rolloutId, {
        action: act,
        ...t,
        ...(opts.runAt ? { runAt: opts.runAt.toISOString() } : {}),
        ...(action === "skip" ? { reason: opts.reason?.trim() ?? "" } : {}),
      });
      const rows = res.results.map((r) => ({
        taskId: r.taskId,
        outcome: outcomeOf(act, r),
        changed: r.result === "CHANGED",
        ...(r.status ? { status: r.status } : {}),
        ...(r.reason ? { reason: r.reason } : {}),
        ...(r.failing ? { failing: r.failing } : {}),
      }));
      report.value = { action, rows };
      rollout.setSelection([]);
      void rollout.resync().catch(() => undefined);
      return report.value;
    } finally {
      busy.value = false;
    }
  }

  function dismissReport() {
    report.value = null;
  }

  return { busy, report, preview, perform, dismissReport };
});
