import { request } from "./http";
import type { RetryPolicy, RetryPolicyPatch, TaskRunSession } from "./types";

const policyPath = (projectId: string) => `/projects/${encodeURIComponent(projectId)}/retry-policy`;

export function retryPolicyGet(projectId: string): Promise<RetryPolicy> {
  return request<RetryPolicy>("GET", policyPath(projectId));
}

export function retryPolicyUpdate(projectId: string, patch: RetryPolicyPatch): Promise<RetryPolicy> {
  return request<RetryPolicy>("PATCH", policyPath(projectId), { body: patch });
}

/** A RUNNING run's session on its target and who blocks it (409 RUN_NOT_RUNNING, 502 TARGET_UNREACHABLE). */
export function taskRunSession(taskRunId: string): Promise<TaskRunSession> {
  return request<TaskRunSession>("GET", `/task-runs/${encodeURIComponent(taskRunId)}/session`);
}
