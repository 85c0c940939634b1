import type { TaskStatus } from "@runway/shared";
import { request } from "./http";
import type { Page, Rollout, RolloutSummary, Task } from "./types";

export async function rolloutList(
  projectId: string,
  p: { pageSize?: number; pageToken?: string | null } = {},
): Promise<Page<RolloutSummary>> {
  const body = await request<{ rollouts: RolloutSummary[]; nextPageToken?: string | null }>(
    "GET",
    `/projects/${encodeURIComponent(projectId)}/rollouts`,
    { query: { pageSize: p.pageSize, pageToken: p.pageToken } },
  );
  return { items: body.rollouts, nextPageToken: body.nextPageToken || null };
}

export function rolloutGet(rolloutId: string): Promise<Rollout> {
  return request<Rollout>("GET", `/rollouts/${encodeURIComponent(rolloutId)}`);
}

export async function taskList(
  rolloutId: string,
  p: { status?: readonly TaskStatus[]; stageId?: string; pageSize?: number; pageToken?: string | null } = {},
): Promise<Page<Task>> {
  const body = await request<{ tasks: Task[]; nextPageToken?: string | null }>(
    "GET",
    `/rollouts/${encodeURIComponent(rolloutId)}/tasks`,
    { query: { status: p.status, stageId: p.stageId, pageSize: p.pageSize, pageToken: p.pageToken } },
  );
  return { items: body.tasks, nextPageToken: body.nextPageToken || null };
}

/** Largest page the dashboard asks for; the server may return fewer. */
export const TASK_PAGE_SIZE = 1000;

/** Every task of a rollout, page by page; `onPage` sees each page as it arrives. */
export async function taskListAll(rolloutId: string, onPage?: (tasks: Task[]) => void): Promise<Task[]> {
  const all: Task[] = [];
  let pageToken: string | null = null;
  do {
    const page: Page<Task> = await taskList(rolloutId, { pageSize: TASK_PAGE_SIZE, pageToken });
    all.push(...page.items);
    onPage?.(page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}
