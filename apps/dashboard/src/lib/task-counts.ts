import { TASK_STATUS_ORDER, type TaskStatus } from "@runway/shared";
import type { StatusCounts, Task } from "@/api/types";

export function emptyCounts(): StatusCounts {
  return Object.fromEntries(TASK_STATUS_ORDER.map((s) => [s, 0])) as StatusCounts;
}

export function countByStatus(tasks: readonly Task[]): StatusCounts {
  const counts = emptyCounts();
  for (const t of tasks) counts[t.status] += 1;
  return counts;
}

export function totalOf(counts: StatusCounts): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/** Done + skipped: the tasks that need nothing more. */
export function finishedOf(counts: StatusCounts): number {
  return counts.DONE + counts.SKIPPED;
}

/** Status filter from a URL query value (`?status=AVAILABLE&status=PENDING`); unknown values are dropped. */
export function parseStatusQuery(value: unknown): TaskStatus[] {
  const values = (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === "string" ? v.split(",") : []));
  return TASK_STATUS_ORDER.filter((s) => values.includes(s));
}
