import { defineStore } from "pinia";
import { computed, ref, watch } from "vue";
import { retryDelayMs, staleness } from "@/lib/staleness";
import { useLiveStore } from "./live";
import { useRolloutStore } from "./rollout";

/**
 * Whether the open rollout's data is stale (the live stream is lost, or the last refresh failed), and
 * the retry of a failed refresh: with the stream up nothing else would ask again, so a failure is
 * retried with backoff until data arrives. A stream that comes back triggers its own catch-up
 * (stores/live.ts), which resets the backoff when it succeeds.
 */
export const useFreshnessStore = defineStore("freshness", () => {
  const rollout = useRolloutStore();
  const live = useLiveStore();
  const streamLostAt = ref<Date | null>(null);
  // Only the moment matters: the data is stale until a catch-up lands after it.
  watch(
    () => live.state,
    (s) => {
      if (s === "reconnecting") streamLostAt.value = new Date();
      else if (s === "idle") streamLostAt.value = null;
    },
    { flush: "sync" },
  );
  const state = computed(() =>
    staleness({
      syncedAt: rollout.syncedAt,
      // An error with nothing loaded is the page's own error (or not-found) state, not staleness.
      refreshFailed: rollout.rollout !== null && rollout.error !== null,
      live: live.state,
      streamLostAt: streamLostAt.value,
    }),
  );
  const attempt = ref(0);
  let timer: ReturnType<typeof setTimeout> | undefined;

  function cancelRetry() {
    if (timer) clearTimeout(timer);
    timer = undefined;
  }

  // Each new failure (a new error object) schedules the next try; fresh data resets the count.
  watch(
    () => [rollout.error, rollout.syncedAt] as const,
    ([err]) => {
      cancelRetry();
      if (err === null || rollout.rollout === null) {
        attempt.value = 0;
        return;
      }
      const delay = retryDelayMs(attempt.value);
      attempt.value++;
      timer = setTimeout(() => {
        timer = undefined;
        rollout.resync().catch(() => undefined); // a failure sets rollout.error again: the watch goes on
      }, delay);
    },
  );

  return { state, attempt, cancelRetry };
});
