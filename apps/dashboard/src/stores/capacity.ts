import { defineStore } from "pinia";
import { ref } from "vue";
import { replicasList, type ReplicaList } from "@/api";

/** How often the header's executor indicator asks; one cheap query (GET /replicas) per tick. */
export const CAPACITY_POLL_MS = 5_000;

/**
 * Executor capacity across the replicas (issue 14 point 6), polled while someone shows it. One request at
 * a time: the next is scheduled only when the previous answered, so a slow server is never piled on.
 */
export const useCapacityStore = defineStore("capacity", () => {
  const list = ref<ReplicaList | null>(null);
  let users = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;

  async function tick() {
    timer = undefined;
    inFlight = true;
    try {
      list.value = await replicasList();
    } catch {
      // Unknown capacity says nothing rather than something stale (the stale banner reports the server).
      list.value = null;
    } finally {
      inFlight = false;
    }
    if (users > 0) timer = setTimeout(() => void tick(), CAPACITY_POLL_MS);
  }

  /** Starts polling for one more user; the returned function stops it for that user. */
  function use(): () => void {
    users++;
    if (users === 1 && timer === undefined && !inFlight) void tick();
    return () => {
      users--;
      if (users === 0 && timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
    };
  }

  /** AVAILABLE runs wait for a free executor (decided by the server: capacityOf in @runway/shared). */
  const allBusy = () => list.value?.capacity.allBusy === true;

  return { list, use, allBusy };
});
