import { TaskStatus } from "@runway/shared";
import type { Task } from "@/api/types";

/** What a release manager can do to tasks, and in which task statuses each is offered. */
export type TaskAction = "run" | "retry" | "cancel" | "skip";

export const TASK_ACTIONS: readonly TaskAction[] = ["run", "retry", "cancel", "skip"];

const ALLOWED: Record<TaskAction, readonly TaskStatus[]> = {
  run: [TaskStatus.NOT_STARTED],
  retry: [TaskStatus.FAILED, TaskStatus.CANCELED],
  cancel: [TaskStatus.PENDING, TaskStatus.AVAILABLE, TaskStatus.RUNNING],
  skip: [TaskStatus.NOT_STARTED, TaskStatus.FAILED, TaskStatus.CANCELED],
};

export function isAllowed(action: TaskAction, task: Task): boolean {
  if (!ALLOWED[action].includes(task.status)) return false;
  // Cancel acts on the task's active run.
  return action !== "cancel" || Boolean(task.latestRun?.id);
}

export function actionsFor(task: Task): TaskAction[] {
  return TASK_ACTIONS.filter((a) => isAllowed(a, task));
}

export interface Partitioned {
  eligible: Task[];
  ineligible: Task[];
}

export function partition(action: TaskAction, tasks: readonly Task[]): Partitioned {
  const eligible: Task[] = [];
  const ineligible: Task[] = [];
  for (const t of tasks) (isAllowed(action, t) ? eligible : ineligible).push(t);
  return { eligible, ineligible };
}

/** A confirmation line: an i18n key, its plural count and parameters. */
export interface ConfirmLine {
  key: string;
  count: number;
  params?: Record<string, string | number>;
}

/**
 * What exactly will happen, line by line. Cancel distinguishes waiting runs (canceled at once) from
 * running ones (statement aborted, transaction rolled back). `schedule` describes a run with a time.
 */
export function confirmLines(action: TaskAction, tasks: readonly Task[], scheduled = false): ConfirmLine[] {
  const { eligible, ineligible } = partition(action, tasks);
  const lines: ConfirmLine[] = [];
  if (action === "cancel") {
    const running = eligible.filter((t) => t.status === TaskStatus.RUNNING).length;
    const waiting = eligible.length - running;
    if (waiting > 0) lines.push({ key: "confirm.cancelWaiting", count: waiting });
    if (running > 0) lines.push({ key: "confirm.cancelRunning", count: running });
  } else if (eligible.length > 0) {
    const key = action === "run" && scheduled ? "confirm.schedule" : `confirm.${action}`;
    lines.push({ key, count: eligible.length });
  }
  if (ineligible.length > 0) lines.push({ key: "confirm.ineligible", count: ineligible.length });
  return lines;
}
