import { request } from "./http";
import type { CheckPolicy, CheckPolicyPatch } from "./types";

/** A project's check policy (issue 15): block on lint errors, require a passing dry run, rule settings. */
export function checkPolicyGet(projectId: string): Promise<CheckPolicy> {
  return request<CheckPolicy>("GET", `/projects/${encodeURIComponent(projectId)}/check-policy`);
}

export function checkPolicyUpdate(projectId: string, patch: CheckPolicyPatch): Promise<CheckPolicy> {
  return request<CheckPolicy>("PATCH", `/projects/${encodeURIComponent(projectId)}/check-policy`, { body: patch });
}
