import { TASK_STATUS_ORDER, TaskStatus } from "@runway/shared";
import type { StatusCounts, Task } from "@/api/types";

export type FullCounts = Record<TaskStatus, number>;

export function emptyCounts(): FullCounts {
  return Object.fromEntries(TASK_STATUS_ORDER.map((s) => [s, 0])) as FullCounts;
}

export function countByStatus(tasks: readonly Task[]): FullCounts {
  const counts = emptyCounts();
  for (const t of tasks) counts[t.status] = (counts[t.status] ?? 0) + 1;
  return counts;
}

/** Served counts are complete; tolerate a partial object anyway (a missing status reads as 0). */
export function fillCounts(partial: Partial<StatusCounts> | undefined): FullCounts {
  return { ...emptyCounts(), ...partial };
}

export function totalOf(counts: Partial<StatusCounts>): number {
  return Object.values(counts).reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

/** Done + skipped: the tasks that need nothing more. */
export function finishedOf(counts: Partial<StatusCounts>): number {
  return (counts.DONE ?? 0) + (counts.SKIPPED ?? 0);
}

/** Status filter from a URL query value (`?status=AVAILABLE&status=PENDING`); unknown values are dropped. */
export function parseStatusQuery(value: unknown): TaskStatus[] {
  const values = (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === "string" ? v.split(",") : []));
  return TASK_STATUS_ORDER.filter((s) => values.includes(s));
}
