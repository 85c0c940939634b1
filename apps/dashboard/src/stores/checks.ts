import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { checksRun, rolloutChecks, type RolloutChecks, type Severity } from "@/api";
import { useRolloutStore } from "./rollout";

/** How often progress is read while dry runs are queued or running (they are short; the server sends no per-task events). */
export const CHECKS_POLL_MS = 1000;

/**
 * The open rollout's checks: per task the worst lint severity and latest dry-run outcome, the summary
 * counts, the "Checks" filter (only tasks with findings or a failing dry run), and "Check all" progress.
 */
export const useChecksStore = defineStore("checks", () => {
  const rolloutId = ref<string | null>(null);
  const summary = ref<RolloutChecks | null>(null);
  const onlyFlagged = ref(false);
  const running = ref(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let followLive: ReturnType<typeof setTimeout> | undefined;
  let following = false;

  const byTask = computed(() => new Map((summary.value?.tasks ?? []).map((t) => [t.taskId, t])));
  /** Tasks the "Checks" chip keeps: a lint error or warning, or a dry run that did not pass. */
  const flagged = computed(
    () =>
      new Set(
        (summary.value?.tasks ?? [])
          .filter(
            (t) =>
              t.worst === "error" || t.worst === "warning" || t.dryRun === "FAILED" || t.dryRun === "LOST" || t.dryRun === "UNREACHABLE",
          )
          .map((t) => t.taskId),
      ),
  );
  const active = computed(() => (summary.value ? summary.value.dryRun.queued + summary.value.dryRun.running : 0));
  /** Dry runs finished out of those asked for, while any is active. */
  const progress = computed(() => {
    const s = summary.value?.dryRun;
    if (!s) return null;
    const done = s.passed + s.failed + s.cannot + s.lost;
    return { done, total: done + s.queued + s.running };
  });

  function worstOf(taskId: string): Severity | null {
    return byTask.value.get(taskId)?.worst ?? null;
  }

  async function refresh(): Promise<void> {
    const id = rolloutId.value;
    if (!id) return;
    const next = await rolloutChecks(id);
    if (id !== rolloutId.value) return;
    summary.value = next;
    clearTimeout(timer);
    if (active.value > 0) timer = setTimeout(() => void refresh().catch(() => undefined), CHECKS_POLL_MS);
    else running.value = false;
  }

  function load(id: string): Promise<void> {
    if (!following) {
      following = true;
      // The rollout's live events (a dry run finished, someone ran checks) reach the rollout store: follow them, once per burst.
      useRolloutStore().$onAction(({ name }) => {
        if (name !== "applyEvent" || followLive) return;
        followLive = setTimeout(() => {
          followLive = undefined;
          void refresh().catch(() => undefined);
        }, 500);
      });
    }
    if (id !== rolloutId.value) {
      reset();
      rolloutId.value = id;
    }
    return refresh();
  }

  async function checkAll(taskIds?: string[]): Promise<void> {
    if (!rolloutId.value) return;
    running.value = true;
    try {
      await checksRun(rolloutId.value, taskIds);
      await refresh();
    } catch (err) {
      running.value = false;
      throw err;
    }
  }

  function reset() {
    clearTimeout(timer);
    rolloutId.value = null;
    summary.value = null;
    onlyFlagged.value = false;
    running.value = false;
  }

  return { rolloutId, summary, onlyFlagged, running, byTask, flagged, active, progress, worstOf, load, refresh, checkAll, reset };
});
