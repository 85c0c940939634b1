import type { TaskStatus } from "@runway/shared";
import { request } from "./http";
import type { Page, Rollout, RolloutList, RolloutSummary, Task, TaskList } from "./types";

export async function rolloutList(
  projectId: string,
  p: { pageSize?: number; pageToken?: string | null } = {},
): Promise<Page<RolloutSummary>> {
  const body = await request<RolloutList>("GET", `/projects/${encodeURIComponent(projectId)}/rollouts`, {
    query: { pageSize: p.pageSize, pageToken: p.pageToken },
  });
  return { items: body.rollouts, nextPageToken: body.nextPageToken };
}

export function rolloutGet(rolloutId: string): Promise<Rollout> {
  return request<Rollout>("GET", `/rollouts/${encodeURIComponent(rolloutId)}`);
}

export interface TaskPage extends Page<Task> {
  /** Pass as `updatedSince` later for what changed after this page was read. */
  cursor: string;
}

export async function taskList(
  rolloutId: string,
  p: { status?: readonly TaskStatus[]; stageId?: string; updatedSince?: string; pageSize?: number; pageToken?: string | null } = {},
): Promise<TaskPage> {
  const body = await request<TaskList>("GET", `/rollouts/${encodeURIComponent(rolloutId)}/tasks`, {
    query: { status: p.status, stageId: p.stageId, updatedSince: p.updatedSince, pageSize: p.pageSize, pageToken: p.pageToken },
  });
  return { items: body.tasks, nextPageToken: body.nextPageToken, cursor: body.cursor };
}

/** Largest page the dashboard asks for; the server may return fewer. */
export const TASK_PAGE_SIZE = 1000;

export interface TaskListing {
  tasks: Task[];
  /** The first page's cursor: anything that changed while later pages were read comes again next time. */
  cursor: string;
}

/**
 * Every task of a rollout, page by page (`onPage` sees each page as it arrives); with `updatedSince`,
 * only those that changed since that cursor.
 */
export async function taskListAll(
  rolloutId: string,
  opts: { updatedSince?: string; onPage?: (tasks: Task[]) => void } = {},
): Promise<TaskListing> {
  const all: Task[] = [];
  let cursor: string | undefined;
  let pageToken: string | null = null;
  do {
    const page: TaskPage = await taskList(rolloutId, { pageSize: TASK_PAGE_SIZE, pageToken, updatedSince: opts.updatedSince });
    all.push(...page.items);
    cursor ??= page.cursor;
    opts.onPage?.(page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  // The loop ran at least once, so the first page's cursor is there.
  return { tasks: all, cursor: cursor! };
}
