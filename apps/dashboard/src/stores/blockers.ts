import { defineStore } from "pinia";
import { ref, watch } from "vue";
import { ApiError, rolloutBlockers, taskGet, tasksRun, tasksSkip, taskRunsCancel, type RolloutBlockers } from "@/api";
import { useRolloutStore } from "./rollout";

/** Refetch at most this often while the rollout changes (the summary is one query, but not free). */
export const BLOCKERS_DEBOUNCE_MS = 600;

/**
 * The open rollout's root blockers (per rollout and stage), refetched when its counts move, and the
 * actions on a blocker — which may belong to another rollout (a smaller version elsewhere on the database).
 */
export const useBlockersStore = defineStore("blockers", () => {
  const summary = ref<RolloutBlockers | null>(null);
  const rollout = useRolloutStore();
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function refresh() {
    const id = rollout.rolloutId;
    if (!id) return;
    try {
      const s = await rolloutBlockers(id);
      if (rollout.rolloutId === id) summary.value = s;
    } catch (e) {
      // The stale banner reports an unreachable server; a summary is no reason to shout twice.
      if (!(e instanceof ApiError)) throw e;
    }
  }

  watch(
    () => [rollout.rolloutId, rollout.counts] as const,
    ([id], old) => {
      if (id !== old?.[0]) summary.value = null;
      clearTimeout(timer);
      timer = setTimeout(() => void refresh(), summary.value ? BLOCKERS_DEBOUNCE_MS : 0);
    },
    { immediate: true },
  );

  function blockedIn(stageId: string): { held: number; blocked: number } {
    return summary.value?.stages.find((s) => s.stageId === stageId) ?? { held: 0, blocked: 0 };
  }

  /** Retry (run again), skip or cancel a blocker by id, in whichever rollout it lives. */
  async function act(action: "run" | "retry" | "skip" | "cancel", taskId: string, reason = "") {
    const task = await taskGet(taskId);
    if (action === "run" || action === "retry") await tasksRun(task.rolloutId, [taskId]);
    else if (action === "skip") await tasksSkip(task.rolloutId, [taskId], reason);
    else if (task.latestRun) await taskRunsCancel(task.rolloutId, [task.latestRun.id]);
    void rollout.resync().catch(() => undefined);
    await refresh();
  }

  return { summary, refresh, blockedIn, act };
});
