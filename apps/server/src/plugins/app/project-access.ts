import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import type { Role } from "@runway/shared";
import { LRUCache } from "lru-cache";
import type { Db } from "../../store/db.js";
import { projectGrantOf, projectGrantsOf, rolloutProjects, type ProjectRole } from "../../store/project-members.js";
import { ApiError, ErrorCode } from "./api-error.js";
import { hasRole, type AuthUser } from "./auth.js";
import { projectRefOf } from "./project-ref.js";

/** A user's role inside one project: a grant replaces the global role there; admins are admins everywhere. */
export type EffectiveRole = Role | "none";
const RANK: Record<EffectiveRole, number> = { none: -1, viewer: 0, releaser: 1, admin: 2 };

export const effectiveRole = (user: Pick<AuthUser, "role">, grant: ProjectRole | null | undefined): EffectiveRole =>
  user.role === "admin" ? "admin" : (grant ?? user.role);

export const atLeast = (role: EffectiveRole, need: Role): boolean => RANK[role] >= RANK[need];

declare module "fastify" {
  interface FastifyRequest {
    /** Set on project-scoped routes: the project and the caller's role in it. */
    projectAccess?: { projectId: string; role: EffectiveRole };
  }
}

/**
 * Per-project roles (docs/security.md). Runs after authentication (auth.ts leaves the role check of
 * project-scoped routes to this hook): the route's least role is compared with the caller's role in the
 * project the path names, in onRequest like every other check, before the body is read.
 */
export default fp(
  async function projectAccess(app: FastifyInstance) {
    app.addHook("onRequest", async (req) => {
      const need = req.routeOptions.config.auth;
      const user = req.user;
      if (need === undefined || need === "public" || !user) return;
      const ref = projectRefOf(req);
      if (!ref) return;
      const denied = (where: string, role: string) =>
        new ApiError(
          403,
          ErrorCode.PERMISSION_DENIED,
          `${req.method} ${req.routeOptions.url} needs the ${need} role${where}; ${user.username} is ${role}${where ? " there" : ""}`,
        );
      if (user.role === "admin") return;
      const found = await projectGrantOf(app.ctx.db, user.username, ref);
      if (!found) {
        // Names nothing: the route answers 404 to whoever the global role lets through.
        if (!hasRole(user, need)) throw denied("", user.role);
        return;
      }
      const role = effectiveRole(user, found.grant);
      req.projectAccess = { projectId: found.projectId, role };
      if (!atLeast(role, need)) throw denied(` in project "${found.projectId}"`, role);
    });
  },
  { name: "runway-project-access", dependencies: ["runway-auth"] },
);

/** Projects hidden from the user (`none` grants); admins see everything. */
export async function hiddenProjectsOf(db: Db, user: AuthUser): Promise<string[]> {
  if (user.role === "admin") return [];
  return Object.entries(await projectGrantsOf(db, user.username))
    .filter(([, role]) => role === "none")
    .map(([id]) => id);
}

/**
 * A rollout's project never changes, so the SSE filter remembers it (bounded: 100,000 rollouts). Bounded by
 * size, one per entry, not by `max`: lru-cache preallocates `max` slots when it is set, which cost ~20 ms
 * and ~2 MiB at every start for a cache most replicas barely use (issue 20).
 */
const rolloutProjectCache = new LRUCache<string, string>({ maxSize: 100_000, sizeCalculation: () => 1 });

/**
 * The SSE stream's filter: null when the user may see every project (the common case, no work per
 * event), otherwise a check that a rollout's project is not hidden from them (`none`). Grants are read
 * when the stream opens.
 */
export async function rolloutVisibility(db: Db, user: AuthUser): Promise<((rolloutId: string) => Promise<boolean>) | null> {
  if (user.role === "admin") return null;
  const grants = await projectGrantsOf(db, user.username);
  const hidden = new Set(
    Object.entries(grants)
      .filter(([, role]) => role === "none")
      .map(([id]) => id),
  );
  if (hidden.size === 0) return null;
  return async (rolloutId) => {
    let projectId = rolloutProjectCache.get(rolloutId);
    if (projectId === undefined) {
      projectId = (await rolloutProjects(db, [rolloutId])).get(rolloutId);
      if (projectId === undefined) return false;
      rolloutProjectCache.set(rolloutId, projectId);
    }
    return !hidden.has(projectId);
  };
}

/** 403 unless `user` may read the rollout's project (routes whose rollout id is not a path parameter). */
export async function assertRolloutReadable(db: Db, user: AuthUser, rolloutId: string): Promise<void> {
  if (user.role === "admin") return;
  const found = await projectGrantOf(db, user.username, { rolloutId });
  if (found && effectiveRole(user, found.grant) === "none") {
    throw new ApiError(403, ErrorCode.PERMISSION_DENIED, `${user.username} has no access to project "${found.projectId}"`);
  }
}
