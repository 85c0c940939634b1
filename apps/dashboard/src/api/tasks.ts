import { request } from "./http";
import type { CancelResultRow, CancelResults, LogEntries, LogEntry, RunResultRow, RunResults, TaskRun, TaskRunList } from "./types";

const rollout = (id: string) => `/rollouts/${encodeURIComponent(id)}`;

/** Run now (runAt omitted), schedule (runAt in the future), or retry FAILED/CANCELED tasks. */
export async function tasksRun(rolloutId: string, taskIds: string[], runAt?: Date): Promise<RunResultRow[]> {
  const body = { taskIds, ...(runAt ? { runAt: runAt.toISOString() } : {}) };
  const res = await request<RunResults>("POST", `${rollout(rolloutId)}/tasks/run`, { body });
  return res.results;
}

export async function tasksSkip(rolloutId: string, taskIds: string[], reason: string): Promise<void> {
  await request<unknown>("POST", `${rollout(rolloutId)}/tasks/skip`, { body: { taskIds, reason } });
}

export async function taskRunsCancel(rolloutId: string, taskRunIds: string[]): Promise<CancelResultRow[]> {
  const res = await request<CancelResults>("POST", `${rollout(rolloutId)}/task-runs/cancel`, {
    body: { taskRunIds },
  });
  return res.results;
}

export async function taskRunList(taskId: string): Promise<TaskRun[]> {
  return (await request<TaskRunList>("GET", `/tasks/${encodeURIComponent(taskId)}/runs`)).runs;
}

export async function taskRunLogs(taskRunId: string): Promise<LogEntry[]> {
  const body = await request<LogEntries>("GET", `/task-runs/${encodeURIComponent(taskRunId)}/logs`);
  return body.entries;
}
