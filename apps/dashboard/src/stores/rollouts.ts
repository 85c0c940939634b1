import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { rolloutList, type RolloutSummary } from "@/api";

export const ROLLOUT_PAGE_SIZE = 20;

/** One project's rollouts, one page at a time, with the tokens to go back. */
export const useRolloutsStore = defineStore("rollouts", () => {
  const projectId = ref<string | null>(null);
  const rollouts = ref<RolloutSummary[]>([]);
  const nextPageToken = ref<string | null>(null);
  /** Tokens of the pages before the current one; the first page's token is null. */
  const previousTokens = ref<(string | null)[]>([]);
  const currentToken = ref<string | null>(null);
  const loading = ref(false);

  const page = computed(() => previousTokens.value.length + 1);
  const hasNext = computed(() => nextPageToken.value !== null);
  const hasPrevious = computed(() => previousTokens.value.length > 0);

  async function fetchPage(token: string | null) {
    if (!projectId.value) return;
    loading.value = true;
    try {
      const res = await rolloutList(projectId.value, { pageSize: ROLLOUT_PAGE_SIZE, pageToken: token });
      rollouts.value = res.items;
      nextPageToken.value = res.nextPageToken;
      currentToken.value = token;
    } finally {
      loading.value = false;
    }
  }

  async function load(id: string): Promise<void> {
    // Another project's rows must not stay on screen if this one fails to load.
    if (projectId.value !== id) rollouts.value = [];
    projectId.value = id;
    previousTokens.value = [];
    await fetchPage(null);
  }

  async function next(): Promise<void> {
    if (!nextPageToken.value) return;
    const from = currentToken.value;
    await fetchPage(nextPageToken.value);
    previousTokens.value.push(from);
  }

  async function previous(): Promise<void> {
    if (previousTokens.value.length === 0) return;
    const token = previousTokens.value[previousTokens.value.length - 1] ?? null;
    await fetchPage(token);
    previousTokens.value.pop();
  }

  /** Reload the page we are on (after a change). */
  async function refresh(): Promise<void> {
    await fetchPage(currentToken.value);
  }

  return { projectId, rollouts, nextPageToken, loading, page, hasNext, hasPrevious, load, next, previous, refresh };
});
