import { request } from "./http";
import type { ChecksRunResult, RolloutChecks, TaskChecks } from "./types";

/** Checks before a change runs (issue 15): lint findings, dry runs. */

export function rolloutChecks(rolloutId: string): Promise<RolloutChecks> {
  return request<RolloutChecks>("GET", `/rollouts/${encodeURIComponent(rolloutId)}/checks`);
}

export function taskChecks(taskId: string): Promise<TaskChecks> {
  return request<TaskChecks>("GET", `/tasks/${encodeURIComponent(taskId)}/checks`);
}

/** Lints again and queues dry runs: every task of the rollout, or `taskIds`. */
export function checksRun(rolloutId: string, taskIds?: string[]): Promise<ChecksRunResult> {
  return request<ChecksRunResult>("POST", `/rollouts/${encodeURIComponent(rolloutId)}/checks/run`, { body: taskIds ? { taskIds } : {} });
}
