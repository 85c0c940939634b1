import type { TaskSortKey } from "@runway/shared/schemas";
import { computed, onBeforeUnmount, watch } from "vue";
import { useRoute, useRouter } from "vue-router";
import { parseTaskQuery, taskQueryToRoute, toggleSort, type TaskQuery } from "@/lib/task-query";
import { useRolloutStore } from "@/stores/rollout";
import { useTaskQueryStore } from "@/stores/task-query";

/** Live changes refetch a searched view at most this often. */
const LIVE_REFRESH_MS = 500;

/**
 * The rollout page's search, filters, sort and failure grouping, kept in the URL (the route is the source
 * of truth; the store follows it) and answered by the server whenever any of them is set. The status chips
 * combine with them; live changes to the rollout's tasks refetch the view.
 */
export function useTaskSearch() {
  const route = useRoute();
  const router = useRouter();
  const store = useRolloutStore();
  const found = useTaskQueryStore();
  const grouped = computed(() => route.query.group === "error");

  watch(
    () => route.query,
    (q) => found.setQuery(parseTaskQuery(q)),
    { immediate: true },
  );

  const refresh = () => {
    if (store.rolloutId) void found.refresh(store.rolloutId, store.filter, grouped.value);
  };
  watch([() => found.query, () => store.filter, grouped, () => store.rolloutId], refresh, { immediate: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  watch(
    () => store.tasks,
    () => {
      if (!found.active && !grouped.value) return;
      clearTimeout(timer);
      timer = setTimeout(refresh, LIVE_REFRESH_MS);
    },
  );
  onBeforeUnmount(() => {
    clearTimeout(timer);
    found.reset();
  });

  function setQuery(q: TaskQuery) {
    void router.replace({ query: { ...route.query, ...taskQueryToRoute(q) } });
  }
  function setGrouped(on: boolean) {
    void router.replace({ query: { ...route.query, group: on ? "error" : undefined } });
  }
  const sortBy = (key: TaskSortKey) => setQuery(toggleSort(found.query, key));

  return { found, grouped, setQuery, setGrouped, sortBy };
}
