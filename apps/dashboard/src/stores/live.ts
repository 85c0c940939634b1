import { defineStore } from "pinia";
import { ref } from "vue";
import { openRolloutEvents, type LiveOptions, type LiveState } from "@/api";
import { useRolloutStore } from "./rollout";

/**
 * The live connection of the open rollout. Events go to the rollout store; after a gap (the stream
 * dropped and came back) the rollout is reloaded, since events may have been missed.
 */
export const useLiveStore = defineStore("live", () => {
  const state = ref<LiveState | "idle">("idle");
  const rolloutId = ref<string | null>(null);
  let close: (() => void) | undefined;

  function connect(id: string, options: LiveOptions = {}) {
    if (rolloutId.value === id && close) return;
    disconnect();
    const rollout = useRolloutStore();
    rolloutId.value = id;
    close = openRolloutEvents(
      id,
      {
        onState: (s) => (state.value = s),
        onEvent: (data) => rollout.applyEvent(data),
        onResync: () => void rollout.resync().catch(() => undefined),
      },
      options,
    );
  }

  function disconnect() {
    close?.();
    close = undefined;
    rolloutId.value = null;
    state.value = "idle";
  }

  return { state, rolloutId, connect, disconnect };
});
