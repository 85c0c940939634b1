import type { RolloutCreate } from "@runway/shared/schemas";
import { request } from "./http";

/** Creates a rollout in a project; the tasks start NOT_STARTED. */
export function rolloutCreate(projectId: string, body: RolloutCreate): Promise<{ id: string }> {
  return request<{ id: string }>("POST", `/projects/${encodeURIComponent(projectId)}/rollouts`, { body });
}
