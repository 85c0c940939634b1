import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { randomSecret, sha256, verifyDummy, verifyPassword } from "../../../auth/secrets.js";
import { sessionCreate, sessionDelete } from "../../../store/sessions.js";
import { userCredentials } from "../../../store/users.js";
import { projectGrantsOf } from "../../../store/project-members.js";
import { ApiError, ErrorCode } from "../../../plugins/app/api-error.js";
import { SESSION_COOKIE } from "../../../plugins/app/auth.js";
import { Login, Me } from "../../../schemas/auth.js";
import { errorResponses, NoContent } from "../../../schemas/common.js";

const tags = ["auth"];

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock, config } = app.ctx;
  // Brute force: per username (one account guessed from many addresses) and per client address (many
  // accounts guessed from one). Checked after parsing (preHandler) because the username is in the body.
  const loginLimits = [
    app.createRateLimit({ max: config.loginRateLimit * 5, timeWindow: 60_000, keyGenerator: (req) => `login-ip:${req.ip}` }),
    app.createRateLimit({
      max: config.loginRateLimit,
      timeWindow: 60_000,
      keyGenerator: (req) => `login-user:${(req.body as { username?: string } | undefined)?.username ?? ""}`,
    }),
  ];

  app.post(
    "/auth/login",
    {
      config: { auth: "public", audit: "auth.login" },
      preHandler: async (req, reply) => {
        for (const limit of loginLimits) {
          const r = await limit(req);
          if (!r.isAllowed && r.isExceeded) {
            reply.header("retry-after", r.ttlInSeconds);
            throw new ApiError(429, ErrorCode.RATE_LIMITED, `too many sign-in attempts; retry in ${r.ttlInSeconds} s`);
          }
        }
      },
      schema: {
        tags,
        summary: "Sign in",
        description: "Sets the httpOnly session cookie and returns the CSRF token to send as x-csrf-token on mutations. Rate limited.",
        security: [],
        body: Login,
        response: { 200: Me, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body;
      req.audit.actor = username;
      req.audit.target = `user/${username}`;
      const cred = await userCredentials(db, username);
      const ok = cred && !cred.disabled ? await verifyPassword(cred.passwordHash, password) : await verifyDummy(password);
      if (!ok || !cred) throw new ApiError(401, ErrorCode.UNAUTHENTICATED, "wrong username or password, or the user is disabled");
      // A new session id at every login: a session fixed before login is worth nothing after it.
      const previous = req.cookies[SESSION_COOKIE];
      if (previous) await sessionDelete(db, sha256(previous));
      const sessionId = randomSecret();
      const csrfToken = randomSecret();
      const now = clock.now();
      await sessionCreate(db, { idHash: sha256(sessionId), username, csrfToken, now, expiresAt: new Date(now.getTime() + config.sessionTtlMs) });
      reply.setCookie(SESSION_COOKIE, sessionId, {
        path: "/",
        httpOnly: true,
        sameSite: "lax",
        secure: "auto",
        maxAge: Math.floor(config.sessionTtlMs / 1000),
      });
      return { username, role: cred.role, csrfToken, via: "session" as const };
    },
  );

  app.post(
    "/auth/logout",
    {
      config: { auth: "viewer", audit: "auth.logout" },
      schema: { tags, summary: "Sign out (ends the session; a no-op for API tokens)", response: { 204: NoContent, ...errorResponses } },
    },
    async (req, reply) => {
      if (req.user?.sessionHash) await sessionDelete(db, req.user.sessionHash);
      reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/auth/me",
    { config: { auth: "viewer" }, schema: { tags, summary: "The signed-in user (and the session's CSRF token)", response: { 200: Me, ...errorResponses } } },
    async (req) => {
      const user = req.user!;
      const projectRoles = user.role === "admin" ? {} : await projectGrantsOf(db, user.username);
      return {
        username: user.username, role: user.role, via: user.via,
        ...(Object.keys(projectRoles).length > 0 ? { projectRoles } : {}),
        ...(user.csrfToken ? { csrfToken: user.csrfToken } : {}),
      };
    },
  );
};

export default authRoutes;
