import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { loginKeys } from "../../../auth/login-throttle.js";
import { loginFailureClear, loginFailureRecord, loginLockedUntil } from "../../../store/login-failures.js";
import { randomSecret, sha256, verifyDummy, verifyPassword } from "../../../auth/secrets.js";
import { sessionCreate, sessionDelete } from "../../../store/sessions.js";
import { userCredentials, userSignOutEverywhere } from "../../../store/users.js";
import { projectGrantsOf } from "../../../store/project-members.js";
import { ApiError, ErrorCode } from "../../../plugins/app/api-error.js";
import { SESSION_COOKIE } from "../../../plugins/app/auth.js";
import { errorResponses, Login, Me, NoContent, SignedOutEverywhere } from "@runway/shared/schemas";

const tags = ["auth"];

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock, config } = app.ctx;
  /**
   * Brute force (auth/login-throttle.ts). Checked in preValidation: after the body is parsed (the username
   * is in it) but before the audit entry and the password hash are spent on an attempt that is refused anyway.
   */
  const throttle = async (req: FastifyRequest, reply: FastifyReply) => {
    const keys = loginKeys({
      username: (req.body as { username?: unknown } | undefined)?.username,
      address: req.ip,
      failuresAllowed: config.loginRateLimit,
    });
    const now = clock.now();
    const until = await loginLockedUntil(db, { keys: [keys.address.key, ...(keys.pair ? [keys.pair.key] : [])], now });
    if (until) {
      const seconds = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
      reply.header("retry-after", seconds);
      throw new ApiError(429, ErrorCode.RATE_LIMITED, `too many failed sign-ins; retry in ${seconds} s`);
    }
  };

  app.post(
    "/auth/login",
    {
      config: { auth: "public", audit: "auth.login" },
      preValidation: throttle,
      schema: {
        tags,
        summary: "Sign in",
        description:
          "Sets the httpOnly session cookie and returns the CSRF token to send as x-csrf-token on mutations. Failed attempts are " +
          "limited per username and client address, with growing waits (429 with retry-after).",
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
      const keys = loginKeys({ username, address: req.ip, failuresAllowed: config.loginRateLimit });
      if (!ok || !cred) {
        const now = clock.now();
        for (const k of [keys.pair, keys.address]) if (k) await loginFailureRecord(db, { key: k.key, now, policy: k.policy });
        throw new ApiError(401, ErrorCode.UNAUTHENTICATED, "wrong username or password, or the user is disabled");
      }
      if (keys.pair) await loginFailureClear(db, keys.pair.key);
      // A new session id at every login: a session fixed before login is worth nothing after it.
      const previous = req.cookies[SESSION_COOKIE];
      if (previous) await sessionDelete(db, sha256(previous));
      const sessionId = randomSecret();
      const csrfToken = randomSecret();
      const now = clock.now();
      await sessionCreate(db, {
        idHash: sha256(sessionId),
        username,
        csrfToken,
        now,
        expiresAt: new Date(now.getTime() + config.sessionTtlMs),
      });
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

  app.post(
    "/auth/sign-out-everywhere",
    {
      config: { auth: "viewer", audit: "auth.sign-out-everywhere" },
      schema: {
        tags,
        summary: "Sign out everywhere: end all your sessions and revoke all your API tokens",
        description: "For when a device or a token may be in the wrong hands. Open event streams of yours end too.",
        response: { 200: SignedOutEverywhere, ...errorResponses },
      },
    },
    async (req, reply) => {
      const result = await userSignOutEverywhere(db, { username: req.user!.username, now: clock.now() });
      req.audit.target = `user/${req.user!.username}`;
      req.audit.detail = result;
      reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return { endedSessions: result.sessions, revokedTokens: result.tokens };
    },
  );

  app.get(
    "/auth/me",
    {
      config: { auth: "viewer" },
      schema: { tags, summary: "The signed-in user (and the session's CSRF token)", response: { 200: Me, ...errorResponses } },
    },
    async (req) => {
      const user = req.user!;
      const projectRoles = user.role === "admin" ? {} : await projectGrantsOf(db, user.username);
      return {
        username: user.username,
        role: user.role,
        via: user.via,
        ...(Object.keys(projectRoles).length > 0 ? { projectRoles } : {}),
        ...(user.csrfToken ? { csrfToken: user.csrfToken } : {}),
      };
    },
  );
};

export default authRoutes;
