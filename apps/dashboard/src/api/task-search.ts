import type { TaskStatus } from "@runway/shared";
import type { TaskQuery } from "@/lib/task-query";
import { taskQueryToApi } from "@/lib/task-query";
import { buildUrl, request } from "./http";
import type { FailureGroup, FailureGroups, Task, TaskList } from "./types";

const base = (rolloutId: string) => `/rollouts/${encodeURIComponent(rolloutId)}/tasks`;

export interface TaskSearchResult {
  tasks: Task[];
  /** How many match (the server counts; `tasks` may hold only the first `limit`). */
  total: number;
}

/** The tasks a search, filter and sort select, in the server's order, up to `limit` (pages of 1,000). */
export async function taskSearch(
  rolloutId: string,
  query: TaskQuery,
  statuses: readonly TaskStatus[],
  limit: number,
  /** Sees the first page as soon as it arrives (the view shows it while the rest loads). */
  onFirstPage?: (first: TaskSearchResult) => void,
): Promise<TaskSearchResult> {
  const tasks: Task[] = [];
  let total: number | undefined;
  let pageToken: string | null = null;
  do {
    const page: TaskList = await request<TaskList>("GET", base(rolloutId), {
      query: { ...taskQueryToApi(query, statuses), pageSize: Math.min(1000, limit - tasks.length), pageToken },
    });
    const first = tasks.length === 0;
    tasks.push(...page.tasks);
    if (first) {
      total = page.total;
      onFirstPage?.({ tasks: [...tasks], total: total ?? tasks.length });
    }
    pageToken = page.nextPageToken;
  } while (pageToken && tasks.length < limit);
  return { tasks, total: total ?? tasks.length };
}

export async function failureGroups(rolloutId: string, query: TaskQuery, statuses: readonly TaskStatus[]): Promise<FailureGroup[]> {
  const { sort: _s, order: _o, ...filter } = taskQueryToApi(query, statuses);
  return (await request<FailureGroups>("GET", `${base(rolloutId)}/failure-groups`, { query: filter })).groups;
}

/** Where the browser downloads the current view as CSV (a plain GET with the session cookie; streamed). */
export const taskExportUrl = (rolloutId: string, query: TaskQuery, statuses: readonly TaskStatus[]) =>
  buildUrl(`${base(rolloutId)}/export`, taskQueryToApi(query, statuses));
