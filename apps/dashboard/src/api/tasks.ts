import { request } from "./http";
import type { CancelResultRow, LogEntry, RunResultRow, TaskRun } from "./types";

const rollout = (id: string) => `/rollouts/${encodeURIComponent(id)}`;

/** Run now (runAt omitted), schedule (runAt in the future), or retry FAILED/CANCELED tasks. */
export async function tasksRun(rolloutId: string, taskIds: string[], runAt?: Date): Promise<RunResultRow[]> {
  const body = { taskIds, ...(runAt ? { runAt: runAt.toISOString() } : {}) };
  const res = await request<{ results: RunResultRow[] }>("POST", `${rollout(rolloutId)}/tasks/run`, { body });
  return res.results;
}

export async function tasksSkip(rolloutId: string, taskIds: string[], reason: string): Promise<void> {
  await request<unknown>("POST", `${rollout(rolloutId)}/tasks/skip`, { body: { taskIds, reason } });
}

export async function taskRunsCancel(rolloutId: string, taskRunIds: string[]): Promise<CancelResultRow[]> {
  const res = await request<{ results: CancelResultRow[] }>("POST", `${rollout(rolloutId)}/task-runs/cancel`, {
    body: { taskRunIds },
  });
  return res.results;
}

export async function taskRunList(taskId: string): Promise<TaskRun[]> {
  const body = await request<{ runs?: TaskRun[]; taskRuns?: TaskRun[] } | TaskRun[]>(
    "GET",
    `/tasks/${encodeURIComponent(taskId)}/runs`,
  );
  return Array.isArray(body) ? body : (body.runs ?? body.taskRuns ?? []);
}

export async function taskRunLogs(taskRunId: string): Promise<LogEntry[]> {
  const body = await request<{ entries: LogEntry[] }>("GET", `/task-runs/${encodeURIComponent(taskRunId)}/logs`);
  return body.entries;
}
