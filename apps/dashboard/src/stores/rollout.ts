import type { TaskStatus } from "@runway/shared";
import { defineStore } from "pinia";
import { computed, ref, shallowRef } from "vue";
import { ApiError, rolloutGet, taskListAll, type ChangeEvent, type Rollout, type StatusCounts, type Task } from "@/api";
import { mergeTasks } from "@/lib/task-merge";
import { countByStatus, emptyCounts, finishedOf, totalOf } from "@/lib/task-counts";

export interface StageProgress {
  id: string;
  environment: string;
  counts: StatusCounts;
  total: number;
  finished: number;
}

/** Performance marks ("runway:tasks-page", …) that the UI benchmark reads. */
const mark = (name: string) => globalThis.performance?.mark?.(`runway:${name}`);

/** Coalesce bursts of change events into one catch-up. */
export const RESYNC_DEBOUNCE_MS = 250;

/**
 * The rollout page: the rollout, all its tasks (10,000 is normal), the status filter and the selection.
 * Tasks are kept in one array behind a shallowRef (no deep reactivity over 10,000 objects); a change
 * replaces the array and the changed objects. Live changes arrive as deltas (`updatedSince` the cursor
 * of the last fetch) merged by id, so an event costs what changed, not a reload of every task.
 */
export const useRolloutStore = defineStore("rollout", () => {
  const rolloutId = ref<string | null>(null);
  const rollout = ref<Rollout | null>(null);
  const tasks = shallowRef<Task[]>([]);
  const loading = ref(false);
  /** All pages of tasks arrived; until then counts come from the server's statusCounts. */
  const complete = ref(false);
  const error = ref<unknown>(null);
  /** When data last arrived complete (load or catch-up): the stale banner names it (stores/freshness.ts). */
  const syncedAt = ref<Date | null>(null);
  const filter = ref<TaskStatus[]>([]);
  /** The stage the stage strip narrows the table to (null: every stage). */
  const stageFilter = ref<string | null>(null);
  const selectedIds = ref<string[]>([]);
  /** Live changes that arrived while a selection existed: rows hold still until applied (see applyHeld). */
  const held = shallowRef<Task[]>([]);
  let index = new Map<string, number>();
  let generation = 0;
  /** Where the next delta starts: the cursor of the last complete fetch (null: only a full load will do). */
  let cursor: string | null = null;
  let loadDone: Promise<void> | null = null;

  const counts = computed<StatusCounts>(() =>
    complete.value ? countByStatus(tasks.value) : (rollout.value?.statusCounts ?? emptyCounts()),
  );
  const total = computed(() => totalOf(counts.value));
  const finished = computed(() => finishedOf(counts.value));

  const visibleTasks = computed(() => {
    const stage = stageFilter.value;
    if (filter.value.length === 0) return stage === null ? tasks.value : tasks.value.filter((t) => t.stageId === stage);
    const wanted = new Set(filter.value);
    return tasks.value.filter((t) => wanted.has(t.status) && (stage === null || t.stageId === stage));
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
      const c = complete.value ? countByStatus(byStage.get(s.id) ?? []) : s.statusCounts;
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

  /** Put changed tasks in place (or append new ones); a delta that changes nothing leaves the array be. */
  function upsert(changed: readonly Task[]) {
    const next = mergeTasks(tasks.value, index, changed, rolloutId.value);
    if (next) tasks.value = next;
  }

  /** Everything again: the detail and every task. */
  async function fetchAll(id: string, gen: number): Promise<void> {
    const [detail, list] = await Promise.all([rolloutGet(id), taskListAll(id)]);
    if (gen !== generation) return;
    rollout.value = detail;
    replaceAll(list.tasks);
    held.value = [];
    cursor = list.cursor;
    complete.value = true;
    synced();
    const known = new Set(list.tasks.map((t) => t.id));
    selectedIds.value = selectedIds.value.filter((s) => known.has(s));
  }

  /**
   * Only what changed since the cursor. Counts, chips, stages and the timeline are computed from the
   * tasks, so they follow; the rollout's detail (title, stages) never changes. Tasks are never deleted.
   */
  async function fetchChanges(id: string, gen: number, since: string): Promise<void> {
    const delta = await taskListAll(id, { updatedSince: since });
    if (gen !== generation) return;
    if (selectedIds.value.length > 0 && delta.tasks.length > 0) {
      // Rows must not move or vanish under a selection: keep the newest copy of each and let the user apply.
      const byId = new Map(held.value.map((t) => [t.id, t]));
      for (const t of delta.tasks) byId.set(t.id, t);
      held.value = [...byId.values()];
    } else upsert(delta.tasks);
    cursor = delta.cursor;
    synced();
  }

  /** Fresh data arrived: a failure before it no longer stands. */
  function synced() {
    syncedAt.value = new Date();
    error.value = null;
  }

  async function catchUp(id: string, gen: number): Promise<void> {
    const since = complete.value ? cursor : null;
    if (since === null) return fetchAll(id, gen);
    try {
      await fetchChanges(id, gen, since);
    } catch (err) {
      // A cursor the server no longer accepts (say, after an upgrade): start over.
      if (err instanceof ApiError && err.status === 400) return fetchAll(id, gen);
      throw err;
    }
  }

  /** Opens a rollout: the detail first, then tasks page by page, shown as they arrive. */
  function load(id: string): Promise<void> {
    const done = loadTasks(id);
    loadDone = done.catch(() => undefined);
    return done;
  }

  async function loadTasks(id: string): Promise<void> {
    const gen = ++generation;
    rolloutId.value = id;
    rollout.value = null;
    replaceAll([]);
    cursor = null;
    complete.value = false;
    selectedIds.value = [];
    error.value = null;
    loading.value = true;
    try {
      // The detail and the tasks are fetched side by side. The first page of tasks shows at once; the
      // rest lands in one update (each update of the table walks every row).
      let first = true;
      const tasksPromise = taskListAll(id, {
        onPage: (page) => {
          mark("tasks-page");
          if (first && gen === generation) upsert(page);
          first = false;
        },
      });
      tasksPromise.catch(() => undefined);
      const detail = await rolloutGet(id);
      mark("rollout");
      if (gen !== generation) return;
      rollout.value = detail;
      const list = await tasksPromise;
      if (gen !== generation) return;
      replaceAll(list.tasks);
      cursor = list.cursor;
      complete.value = true;
      synced();
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

  /**
   * Catches up with the server: only what changed since the cursor once every task is loaded (everything
   * with `full`). Calls while one runs coalesce into one more; one during the initial load waits for it.
   */
  function resync(full = false): Promise<void> {
    const id = rolloutId.value;
    if (!id) return Promise.resolve();
    if (queued) return queued;
    if (running) {
      queued = running
        .catch(() => undefined)
        .then(() => {
          queued = null;
          return resync(full);
        });
      return queued;
    }
    const gen = generation;
    running = (async () => {
      await loadDone;
      if (gen !== generation) return;
      await (full ? fetchAll(id, gen) : catchUp(id, gen));
    })()
      .catch((err: unknown) => {
        // Kept for the stale banner (the view keeps showing what it had); every caller still sees it.
        if (gen === generation) error.value = err;
        throw err;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  /** Everything again (the detail too). */
  const reload = () => resync(true);

  let debounce: ReturnType<typeof setTimeout> | undefined;
  function scheduleResync() {
    if (debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      resync().catch((err) => (error.value = err));
    }, RESYNC_DEBOUNCE_MS);
  }

  /**
   * A live event: this rollout changed (events carry no tasks), or `resync` after a gap. Either way a
   * debounced catch-up fetches what changed since the cursor (a delta), once for a burst.
   */
  function applyEvent(event: ChangeEvent) {
    if (event.rolloutId !== null && event.rolloutId !== rolloutId.value) return;
    scheduleResync();
  }

  /** The chip sets the filter at once and the URL follows; the route's echo of the same filter is a no-op. */
  function setFilter(statuses: readonly TaskStatus[]) {
    if (statuses.length === filter.value.length && statuses.every((s, i) => filter.value[i] === s)) return;
    filter.value = [...statuses];
  }

  function setStageFilter(id: string | null) {
    stageFilter.value = id;
  }

  function setSelection(ids: readonly string[]) {
    selectedIds.value = [...ids];
    if (ids.length === 0) applyHeld();
  }

  /** Puts the held live changes in place. */
  function applyHeld() {
    if (held.value.length === 0) return;
    const list = held.value;
    held.value = [];
    upsert(list);
  }

  function reset() {
    generation++;
    rolloutId.value = null;
    rollout.value = null;
    replaceAll([]);
    cursor = null;
    loadDone = null;
    syncedAt.value = null;
    complete.value = false;
    selectedIds.value = [];
    held.value = [];
    if (debounce) clearTimeout(debounce);
    debounce = undefined;
  }

  return {
    rolloutId,
    rollout,
    tasks,
    loading,
    complete,
    error,
    syncedAt,
    filter,
    stageFilter,
    setStageFilter,
    selectedIds,
    held,
    applyHeld,
    counts,
    total,
    finished,
    visibleTasks,
    selectedTasks,
    stages,
    taskById,
    load,
    resync,
    reload,
    applyEvent,
    upsert,
    setFilter,
    setSelection,
    reset,
  };
});
