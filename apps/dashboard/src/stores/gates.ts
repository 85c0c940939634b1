import { defineStore } from "pinia";
import { computed, ref, watch } from "vue";
import type { RolloutGates, StageGate } from "@/api/types";
import { rolloutGates, rolloutPause, rolloutResume, stageDecide } from "@/api/gates";
import { useRolloutStore } from "./rollout";

/** Coalesces refreshes while tasks change (a stage completing may auto-run the next one, trip the breaker…). */
export const GATES_REFRESH_MS = 500;

/**
 * The open rollout's release controls (stage order, approvals, pause), read from GET /rollouts/{id}/gates.
 * Follows the rollout store: loaded when a rollout opens, refreshed (coalesced) whenever its tasks change.
 */
export const useGatesStore = defineStore("gates", () => {
  const rollout = useRolloutStore();
  const gates = ref<RolloutGates | null>(null);
  const busy = ref(false);
  let timer: ReturnType<typeof setTimeout> | undefined;

  const byStage = computed(() => new Map<string, StageGate>((gates.value?.stages ?? []).map((s) => [s.stageId, s])));

  async function load(): Promise<void> {
    const id = rollout.rollout?.id;
    if (!id) {
      gates.value = null;
      return;
    }
    const g = await rolloutGates(id);
    if (rollout.rollout?.id === id) gates.value = g;
  }

  function refreshSoon() {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void load().catch(() => undefined);
    }, GATES_REFRESH_MS);
  }

  watch(
    () => rollout.rollout?.id,
    () => void load().catch(() => undefined),
    { immediate: true },
  );
  watch(() => rollout.counts, refreshSoon);

  async function act<T>(fn: (rolloutId: string) => Promise<T>): Promise<T> {
    const id = rollout.rollout?.id;
    if (!id) throw new Error("no rollout open");
    busy.value = true;
    try {
      const r = await fn(id);
      await load();
      return r;
    } finally {
      busy.value = false;
    }
  }

  return {
    gates,
    busy,
    byStage,
    load,
    decide: (stageId: string, verb: "approve" | "reject", comment: string) => act((id) => stageDecide(id, stageId, verb, comment)),
    pause: (reason: string) => act((id) => rolloutPause(id, reason)),
    resume: () => act((id) => rolloutResume(id)),
  };
});
