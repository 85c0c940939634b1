import { request } from "./http";
import type { RolloutBlockers, Task } from "./types";

/** The root-blocker summary of a rollout (what its waiting tasks wait for at the end of their chains). */
export function rolloutBlockers(rolloutId: string): Promise<RolloutBlockers> {
  return request<RolloutBlockers>("GET", `/rollouts/${encodeURIComponent(rolloutId)}/blockers`);
}

export function taskGet(taskId: string): Promise<Task> {
  return request<Task>("GET", `/tasks/${encodeURIComponent(taskId)}`);
}
