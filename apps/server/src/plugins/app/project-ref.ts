import type { FastifyRequest } from "fastify";
import type { ProjectRef } from "../../store/project-members.js";

/** Path parameters that name something of a project, checked in this order; values as the schemas allow. */
const SCOPES: ["projectId" | "rolloutId" | "taskId" | "taskRunId", RegExp][] = [
  ["projectId", /^[a-z][a-z0-9-]{0,62}$/],
  ["rolloutId", /^[1-9][0-9]{0,17}$/],
  ["taskId", /^[1-9][0-9]{0,17}$/],
  ["taskRunId", /^[1-9][0-9]{0,17}$/],
];

/** The path parameters that make a route project-scoped (the OpenAPI document says so of each: http/openapi-roles.ts). */
export const PROJECT_REF_PARAMS: readonly string[] = SCOPES.map(([key]) => key);

/**
 * What project-scoped thing the request names, or null. A malformed value is not resolved (the route's
 * schema answers 400); the global role is checked for it as for any route.
 */
export function projectRefOf(req: FastifyRequest): ProjectRef | null {
  const params = (req.params ?? {}) as Record<string, unknown>;
  for (const [key, pattern] of SCOPES) {
    const value = params[key];
    if (typeof value === "string" && pattern.test(value)) return { [key]: value } as ProjectRef;
  }
  return null;
}
