import type { FastifySchema, RouteOptions } from "fastify";
import type { Role } from "@runway/shared";
import { PROJECT_REF_PARAMS } from "../plugins/app/project-ref.js";

/** Who may call a route, as the OpenAPI document says it: the route's `config.auth`, or public for ops routes. */
export type LeastRole = "public" | Role;

/** Path parameters that make a route project-scoped: a project grant replaces the global role there. */
const PROJECT_SCOPED = new RegExp(`:(?:${PROJECT_REF_PARAMS.join("|")})\\b`);

export function leastRoleOf(route: Pick<RouteOptions, "config">): LeastRole {
  return (route.config as { auth?: LeastRole } | undefined)?.auth ?? "public";
}

/** Whether the caller's role in the project the path names decides, not their global role. */
export function isProjectScoped(url: string): boolean {
  return PROJECT_SCOPED.test(url);
}

/** The sentence the OpenAPI document and docs/api.md give a route's least role in. */
export function leastRoleText(role: LeastRole, url: string): string {
  // Admins are admins everywhere; a project grant is never admin (project-members.ts).
  if (role === "public" || role === "admin") return role;
  return isProjectScoped(url) ? `${role} (in the project)` : role;
}

/**
 * @fastify/swagger's transform: every operation says who may call it, as `x-least-role` for tools and as the
 * first line of its description for people, and a public one needs no credentials (`security: []`). The
 * role is read from the route's own `config.auth`, the value auth.ts enforces, so the document cannot
 * disagree with the server.
 */
export function withLeastRole({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }): {
  schema: FastifySchema;
  url: string;
} {
  const role = leastRoleOf(route);
  const given = (schema as { description?: string }).description;
  const line = role === "public" ? "Public: no credentials." : `Least role: ${leastRoleText(role, url)}.`;
  return {
    url,
    schema: {
      ...schema,
      "x-least-role": role,
      description: given ? `${line}\n\n${given}` : line,
      ...(role === "public" ? { security: [] } : {}),
    } as FastifySchema,
  };
}
