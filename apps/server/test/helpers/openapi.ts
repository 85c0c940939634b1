import type { FastifyInstance } from "fastify";
import type { LeastRole } from "../../src/http/openapi-roles.js";

export interface Operation {
  method: string;
  /** As the document writes it: `/api/v1/rollouts/{rolloutId}`. */
  path: string;
  role: LeastRole;
  summary: string;
}

/** Every operation of the app's OpenAPI document, in its order (the routes' registration order). */
export async function apiOperations(app: FastifyInstance): Promise<Operation[]> {
  const doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json<{
    paths: Record<string, Record<string, { "x-least-role": LeastRole; summary?: string }>>;
  }>();
  return Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path: p,
      role: op["x-least-role"],
      summary: op.summary ?? "",
    })),
  );
}
