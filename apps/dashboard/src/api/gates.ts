import { request } from "./http";
import type { Pause, ProjectPolicies, RolloutGates, StageDecision } from "./types";

/** Release controls (issue 13): environment policies, stage approvals, pause and resume. */

export function policiesGet(projectId: string): Promise<ProjectPolicies> {
  return request<ProjectPolicies>("GET", `/projects/${encodeURIComponent(projectId)}/policies`);
}

export function policiesPut(projectId: string, body: ProjectPolicies): Promise<ProjectPolicies> {
  return request<ProjectPolicies>("PUT", `/projects/${encodeURIComponent(projectId)}/policies`, { body });
}

export function rolloutGates(rolloutId: string): Promise<RolloutGates> {
  return request<RolloutGates>("GET", `/rollouts/${encodeURIComponent(rolloutId)}/gates`);
}

export function stageDecide(rolloutId: string, stageId: string, verb: "approve" | "reject", comment: string): Promise<StageDecision> {
  return request<StageDecision>("POST", `/rollouts/${encodeURIComponent(rolloutId)}/stages/${encodeURIComponent(stageId)}/${verb}`, {
    body: { comment },
  });
}

export function rolloutPause(rolloutId: string, reason: string): Promise<Pause> {
  return request<Pause>("POST", `/rollouts/${encodeURIComponent(rolloutId)}/pause`, { body: { reason } });
}

export function rolloutResume(rolloutId: string): Promise<Pause> {
  return request<Pause>("POST", `/rollouts/${encodeURIComponent(rolloutId)}/resume`, { body: {} });
}
