import type { Task } from "@/api/types";

/** Same served content. Deltas repeat tasks that did not change (the server's overlap window). */
export function sameTask(a: Task, b: Task): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Merges changed tasks into a rollout's list: each replaces the task with its id in place, new ones are
 * appended (and `index`, id → position, learns them). Tasks of other rollouts and tasks that did not
 * really change are skipped. Returns the new list, or `null` when nothing changed: the caller then keeps
 * the old array, and nothing that renders it does any work. Unchanged tasks keep their identity.
 */
export function mergeTasks(
  list: readonly Task[],
  index: Map<string, number>,
  changed: readonly Task[],
  rolloutId: string | null,
): Task[] | null {
  let next: Task[] | null = null;
  for (const t of changed) {
    if (rolloutId !== null && t.rolloutId !== rolloutId) continue;
    const i = index.get(t.id);
    if (i === undefined) {
      next ??= list.slice();
      index.set(t.id, next.length);
      next.push(t);
    } else if (!sameTask((next ?? list)[i]!, t)) {
      next ??= list.slice();
      next[i] = t;
    }
  }
  return next;
}
