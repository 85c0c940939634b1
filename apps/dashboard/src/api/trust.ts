import { request } from "./http";
import type { BulkBody, BulkResults, RolloutBlockers, Task, TaskFilter } from "./types";

/** The root-blocker summary of a rollout (what its waiting tasks wait for at the end of their chains). */
export function rolloutBlockers(rolloutId: string): Promise<RolloutBlockers> {
  return request<RolloutBlockers>("GET", `/rollouts/${encodeURIComponent(rolloutId)}/blockers`);
}

export function taskGet(taskId: string): Promise<Task> {
  return request<Task>("GET", `/tasks/${encodeURIComponent(taskId)}`);
}

/** What a bulk action acts on: these tasks, or every task of the rollout matching the filter (server-side). */
export type BulkTarget = { taskIds: string[] } | { filter: TaskFilter };

export function tasksBulk(rolloutId: string, body: BulkBody): Promise<BulkResults> {
  return request<BulkResults>("POST", `/rollouts/${encodeURIComponent(rolloutId)}/tasks/bulk`, { body });
}
