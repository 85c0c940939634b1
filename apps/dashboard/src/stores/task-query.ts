import type { TaskStatus } from "@runway/shared";
import { defineStore } from "pinia";
import { ref, shallowRef } from "vue";
import { failureGroups, taskSearch, type FailureGroup, type Task } from "@/api";
import { emptyQuery, isServerQuery, sameQuery, type TaskQuery } from "@/lib/task-query";

/** A searched or sorted view shows at most this many rows; the count says how many match. */
export const SEARCH_ROWS_MAX = 5000;

/**
 * The rollout page's server-side view: a search, filters or a sort the server answers (it works at 100k
 * tasks; the browser never filters or sorts its copy). Refetched when the query, the statuses or the
 * rollout's tasks change (live events), the latest request winning.
 */
export const useTaskQueryStore = defineStore("taskQuery", () => {
  const query = ref<TaskQuery>(emptyQuery());
  const active = ref(false);
  const tasks = shallowRef<Task[]>([]);
  const total = ref(0);
  const loading = ref(false);
  const error = ref<unknown>(null);
  const groups = shallowRef<FailureGroup[] | null>(null);
  let generation = 0;

  function setQuery(next: TaskQuery): boolean {
    if (sameQuery(next, query.value)) return false;
    query.value = next;
    active.value = isServerQuery(next);
    return true;
  }

  async function refresh(rolloutId: string, statuses: readonly TaskStatus[], withGroups: boolean): Promise<void> {
    const gen = ++generation;
    if (!active.value && !withGroups) {
      tasks.value = [];
      groups.value = null;
      return;
    }
    loading.value = true;
    try {
      const [found, grouped] = await Promise.all([
        active.value
          ? taskSearch(rolloutId, query.value, statuses, SEARCH_ROWS_MAX, (first) => {
              if (gen !== generation) return;
              tasks.value = first.tasks;
              total.value = first.total;
            })
          : null,
        withGroups ? failureGroups(rolloutId, query.value, statuses) : null,
      ]);
      if (gen !== generation) return;
      tasks.value = found?.tasks ?? [];
      total.value = found?.total ?? 0;
      groups.value = grouped;
      error.value = null;
    } catch (err) {
      if (gen === generation) error.value = err;
    } finally {
      if (gen === generation) loading.value = false;
    }
  }

  /** Every task of one failure group (for a bulk retry or skip), however many. */
  async function groupTasks(rolloutId: string, errorCode: string): Promise<Task[]> {
    const found = await taskSearch(rolloutId, { ...query.value, errorCode, sort: "id", order: "asc" }, ["FAILED"], 100_000);
    return found.tasks;
  }

  function reset() {
    generation++;
    query.value = emptyQuery();
    active.value = false;
    tasks.value = [];
    groups.value = null;
    total.value = 0;
  }

  return { query, active, tasks, total, loading, error, groups, setQuery, refresh, groupTasks, reset };
});
