import type { TaskStatus } from "@runway/shared";
import { defineStore } from "pinia";
import { computed, ref, shallowRef, triggerRef } from "vue";
import { rolloutGet, taskListAll, type Rollout, type Task } from "@/api";
import { countByStatus, fillCounts, finishedOf, totalOf, type FullCounts } from "@/lib/task-counts";

export interface StageProgress {
  id: string;
  environment: string;
  counts: FullCounts;
  total: number;
  finished: number;
}

/** Performance marks ("runway:tasks-page", …) that the UI benchmark reads. */
const mark = (name: string) => globalThis.performance?.mark?.(`runway:${name}`);

/** Coalesce bursts of change events into one reload. */
export const RESYNC_DEBOUNCE_MS = 250;

/**
 * The rollout page: the rollout, all its tasks (10,000 is normal), the status filter and the selection.
 * Tasks are kept in one array behind a shallowRef (no deep reactivity over 10,000 objects); a change
 * replaces the array and the changed objects.
 */
export const useRolloutStore = defineStore("rollout", () => {
  const rolloutId = ref<string | null>(null);
  const rollout = ref<Rollout | null>(null);
  const tasks = shallowRef<Task[]>([]);
  const loading = ref(false);
  /** All pages of tasks arrived; until then counts come from the server's statusCounts. */
  const complete = ref(false);
  const error = ref<unknown>(null);
  const filter = ref<TaskStatus[]>([]);
  const selectedIds = ref<string[]>([]);
  let index = new Map<string, number>();
  let generation = 0;

  const counts = computed<FullCounts>(() =>
    complete.value ? countByStatus(tasks.value) : fillCounts(rollout.value?.statusCounts),
  );
  const total = computed(() => totalOf(counts.value));
  const finished = computed(() => finishedOf(counts.value));

  const visibleTasks = computed(() => {
    if (filter.value.length === 0) return tasks.value;
    const wanted = new Set(filter.value);
    return tasks.value.filter((t) => wanted.has(t.status));
  });

  const selectedTasks = computed(() => selectedIds.value.map(taskById).filter((t): t is Task => t !== undefined));

  const stages = computed<StageProgress[]>(() => {
    const byStage = new Map<string, Task[]>();
    if (complete.value) {
      for (const t of tasks.value) {
        const list = byStage.get(t.stageId);
        if (list) list.push(t);
        else byStage.set(t.stageId, [t]);
      }
    }
    return (rollout.value?.stages ?? []).map((s) => {
      const c = complete.value ? countByStatus(byStage.get(s.id) ?? []) : fillCounts(s.statusCounts);
      return { id: s.id, environment: s.environment, counts: c, total: totalOf(c), finished: finishedOf(c) };
    });
  });

  function taskById(id: string): Task | undefined {
    const list = tasks.value; // read first: a computed asking for a task not loaded yet must re-run when it is
    const i = index.get(id);
    return i === undefined ? undefined : list[i];
  }

  function replaceAll(list: Task[]) {
    tasks.value = list;
    index = new Map(list.map((t, i) => [t.id, i]));
  }

  /** Put changed tasks in place (or append new ones). */
  function upsert(changed: readonly Task[]) {
    const next = tasks.value.slice();
    for (const t of changed) {
      if (t.rolloutId !== undefined && String(t.rolloutId) !== rolloutId.value) continue;
      const i = index.get(t.id);
      if (i === undefined) {
        index.set(t.id, next.length);
        next.push(t);
      } else next[i] = t;
    }
    tasks.value = next;
    triggerRef(tasks);
  }

  async function fetchAll(id: string, gen: number): Promise<void> {
    const [detail, list] = await Promise.all([rolloutGet(id), taskListAll(id)]);
    if (gen !== generation) return;
    rollout.value = detail;
    replaceAll(list);
    complete.value = true;
    const known = new Set(list.map((t) => t.id));
    selectedIds.value = selectedIds.value.filter((s) => known.has(s));
  }

  /** Opens a rollout: the detail first, then tasks page by page, shown as they arrive. */
  async function load(id: string): Promise<void> {
    const gen = ++generation;
    rolloutId.value = id;
    rollout.value = null;
    replaceAll([]);
    complete.value = false;
    selectedIds.value = [];
    error.value = null;
    loading.value = true;
    try {
      // The detail and the tasks are fetched side by side. The first page of tasks shows at once; the
      // rest lands in one update (each update of the table walks every row).
      let first = true;
      const tasksPromise = taskListAll(id, (page) => {
        mark("tasks-page");
        if (first && gen === generation) upsert(page);
        first = false;
      });
      tasksPromise.catch(() => undefined);
      const detail = await rolloutGet(id);
      mark("rollout");
      if (gen !== generation) return;
      rollout.value = detail;
      const list = await tasksPromise;
      if (gen !== generation) return;
      replaceAll(list);
      complete.value = true;
      mark("tasks-complete");
    } catch (err) {
      if (gen === generation) error.value = err;
      throw err;
    } finally {
      if (gen === generation) loading.value = false;
    }
  }

  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;

  /** Reloads the rollout and its tasks; calls during a reload coalesce into one more reload. */
  function resync(): Promise<void> {
    const id = rolloutId.value;
    if (!id) return Promise.resolve();
    if (queued) return queued;
    if (running) {
      queued = running.catch(() => undefined).then(() => {
        queued = null;
        return resync();
      });
      return queued;
    }
    const gen = generation;
    running = fetchAll(id, gen).finally(() => {
      running = null;
    });
    return running;
  }

  let debounce: ReturnType<typeof setTimeout> | undefined;
  function scheduleResync() {
    if (debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      resync().catch((err) => (error.value = err));
    }, RESYNC_DEBOUNCE_MS);
  }

  /**
   * A live event. Events that carry tasks are applied in place; anything else ("this rollout changed")
   * triggers a debounced reload.
   */
  function applyEvent(data: unknown) {
    const d = (data ?? {}) as { task?: Task; tasks?: Task[]; rolloutId?: unknown; rolloutIds?: unknown[] };
    if (d.rolloutIds && rolloutId.value && !d.rolloutIds.map(String).includes(rolloutId.value)) return;
    const carried = d.tasks ?? (d.task ? [d.task] : []);
    if (carried.length > 0 && carried.every((t) => t && typeof t.id === "string" && typeof t.status === "string")) {
      upsert(carried);
      return;
    }
    scheduleResync();
  }

  function setFilter(statuses: readonly TaskStatus[]) {
    filter.value = [...statuses];
  }

  function setSelection(ids: readonly string[]) {
    selectedIds.value = [...ids];
  }

  function reset() {
    generation++;
    rolloutId.value = null;
    rollout.value = null;
    replaceAll([]);
    complete.value = false;
    selectedIds.value = [];
    if (debounce) clearTimeout(debounce);
    debounce = undefined;
  }

  return {
    rolloutId, rollout, tasks, loading, complete, error, filter, selectedIds,
    counts, total, finished, visibleTasks, selectedTasks, stages,
    taskById, load, resync, applyEvent, upsert, setFilter, setSelection, reset,
  };
});
