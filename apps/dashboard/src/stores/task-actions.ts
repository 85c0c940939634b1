import { defineStore } from "pinia";
import { ref } from "vue";
import { taskRunsCancel, tasksRun, tasksSkip, type Task } from "@/api";
import { partition, type TaskAction } from "@/lib/task-actions";
import { useRolloutStore } from "./rollout";

/** One line of the report shown after an action: the task and what the API said happened to it. */
export interface OutcomeRow {
  taskId: string;
  outcome: string;
  /** The outcome changed something (CREATED, CANCELED, CANCEL_REQUESTED, SKIPPED). */
  changed: boolean;
}

export interface OutcomeReport {
  action: TaskAction;
  rows: OutcomeRow[];
}

const CHANGED = new Set(["CREATED", "CANCELED", "CANCEL_REQUESTED", "SKIPPED"]);

/** The API takes at most this many ids per request; larger selections go in consecutive requests. */
export const ID_BATCH = 1000;

async function inBatches<T, R>(ids: T[], send: (batch: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < ids.length; i += ID_BATCH) out.push(...(await send(ids.slice(i, i + ID_BATCH))));
  return out;
}

/**
 * Runs, schedules, retries, cancels and skips tasks of the open rollout. Only the tasks whose status
 * allows the action are sent; the API's per-task outcomes become `report`.
 */
export const useTaskActionsStore = defineStore("taskActions", () => {
  const busy = ref(false);
  const report = ref<OutcomeReport | null>(null);

  async function perform(action: TaskAction, tasks: readonly Task[], opts: { runAt?: Date; reason?: string } = {}) {
    const rollout = useRolloutStore();
    const rolloutId = rollout.rolloutId;
    const { eligible } = partition(action, tasks);
    if (!rolloutId || eligible.length === 0) return null;
    busy.value = true;
    try {
      let rows: OutcomeRow[];
      if (action === "cancel") {
        const byRun = new Map(eligible.map((t) => [t.latestRun!.id, t.id]));
        const results = await inBatches([...byRun.keys()], (b) => taskRunsCancel(rolloutId, b));
        rows = results.map((r) => ({ taskId: byRun.get(r.taskRunId) ?? r.taskRunId, outcome: r.outcome, changed: CHANGED.has(r.outcome) }));
      } else if (action === "skip") {
        const reason = opts.reason?.trim() ?? "";
        await inBatches(
          eligible.map((t) => t.id),
          async (b) => (await tasksSkip(rolloutId, b, reason), []),
        );
        rows = eligible.map((t) => ({ taskId: t.id, outcome: "SKIPPED", changed: true }));
      } else {
        const runAt = action === "run" ? opts.runAt : undefined;
        const results = await inBatches(
          eligible.map((t) => t.id),
          (b) => tasksRun(rolloutId, b, runAt),
        );
        rows = results.map((r) => ({ taskId: r.taskId, outcome: r.outcome, changed: CHANGED.has(r.outcome) }));
      }
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

  return { busy, report, perform, dismissReport };
});
