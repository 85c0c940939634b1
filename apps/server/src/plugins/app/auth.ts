import fp from "fastify-plugin";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Role } from "@runway/shared";
import { safeEqual, sha256 } from "../../auth/secrets.js";
import { sessionGet } from "../../store/sessions.js";
import { tokenAuthenticate } from "../../store/tokens.js";
import type { Db } from "../../store/db.js";
import { ApiError, ErrorCode } from "./api-error.js";
import { projectRefOf } from "./project-ref.js";

export const SESSION_COOKIE = "runway_session";
export const CSRF_HEADER = "x-csrf-token";

export interface AuthUser {
  username: string;
  role: Role;
  via: "session" | "token";
  /** SHA-256 of the session cookie (what the table stores). */
  sessionHash?: string;
  csrfToken?: string;
  tokenId?: string;
  /** What the request authenticated with, to check again later (a long-lived SSE stream). */
  credential: Credential;
}

/** A session cookie or an API token, by the SHA-256 the tables store. */
export interface Credential {
  kind: "session" | "token";
  hash: string;
}

/** The user a credential stands for now: undefined when it is unknown, expired, revoked or its user disabled. */
export async function authenticate(db: Db, now: Date, credential: Credential): Promise<AuthUser | undefined> {
  if (credential.kind === "token") {
    const token = await tokenAuthenticate(db, { tokenHash: credential.hash, now });
    return token && { username: token.username, role: token.role, via: "token", tokenId: token.id, credential };
  }
  const s = await sessionGet(db, { idHash: credential.hash, now });
  return s && { username: s.username, role: s.role, via: "session", sessionHash: credential.hash, csrfToken: s.csrfToken, credential };
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route: "public", or the least role. Every /api/v1 route must say (checked at startup). */
    auth?: "public" | Role;
  }
  interface FastifyRequest {
    user: AuthUser | null;
  }
}

const RANK: Record<Role, number> = { viewer: 0, releaser: 1, admin: 2 };
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const hasRole = (user: AuthUser, role: Role): boolean => RANK[user.role] >= RANK[role];

type Resolved = { user: AuthUser | null } | { error: ApiError };

async function resolveUser(app: FastifyInstance, req: FastifyRequest): Promise<Resolved> {
  const { db, clock } = app.ctx;
  const header = req.headers.authorization;
  // An explicit bearer token wins over a cookie: automation never depends on browser state.
  if (header !== undefined) {
    const m = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(header);
    if (!m) return { error: new ApiError(401, ErrorCode.UNAUTHENTICATED, "the Authorization header must be `Bearer <API token>`") };
    const user = await authenticate(db, clock.now(), { kind: "token", hash: sha256(m[1]!) });
    if (!user)
      return {
        error: new ApiError(401, ErrorCode.UNAUTHENTICATED, "the API token is unknown, revoked or expired, or its user is disabled"),
      };
    return { user };
  }
  const cookie = req.cookies[SESSION_COOKIE];
  if (!cookie) return { user: null };
  const user = await authenticate(db, clock.now(), { kind: "session", hash: sha256(cookie) });
  if (!user) return { error: new ApiError(401, ErrorCode.UNAUTHENTICATED, "the session has expired or ended; sign in again") };
  return { user };
}

/**
 * Authentication, roles and CSRF, all in onRequest: a caller without the right gets 401/403 before its
 * body is even parsed. Cookie-authenticated mutations must echo the session's CSRF token in a header,
 * which a cross-site form or fetch cannot read; bearer tokens are never sent by a browser on its own.
 */
export default fp(
  async function auth(app: FastifyInstance) {
    app.decorateRequest("user", null);
    app.addHook("onRequest", async (req) => {
      const need = req.routeOptions.config.auth;
      if (need === undefined) return;
      const resolved = await resolveUser(app, req);
      if (need === "public") {
        req.user = "user" in resolved ? resolved.user : null;
        return;
      }
      if ("error" in resolved) throw resolved.error;
      const user = resolved.user;
      if (!user)
        throw new ApiError(
          401,
          ErrorCode.UNAUTHENTICATED,
          "sign in with POST /api/v1/auth/login, or send `Authorization: Bearer <API token>`",
        );
      req.user = user;
      // Routes naming a project's things are checked against the role in that project (project-access.ts).
      if (!hasRole(user, need) && !projectRefOf(req)) {
        throw new ApiError(
          403,
          ErrorCode.PERMISSION_DENIED,
          `${req.method} ${req.routeOptions.url} needs the ${need} role; ${user.username} is ${user.role}`,
        );
      }
      if (user.via === "session" && !SAFE_METHODS.has(req.method)) {
        const sent = req.headers[CSRF_HEADER];
        if (typeof sent !== "string" || !user.csrfToken || !safeEqual(sent, user.csrfToken)) {
          throw new ApiError(
            403,
            ErrorCode.PERMISSION_DENIED,
            `missing or wrong ${CSRF_HEADER} header: send the csrfToken from GET /api/v1/auth/me`,
          );
        }
      }
    });
  },
  { name: "runway-auth", dependencies: ["runway-context"] },
);
