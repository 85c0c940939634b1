import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { newApiToken, sha256 } from "../../../auth/secrets.js";
import { tokenCreate, tokenList, tokenRevoke } from "../../../store/tokens.js";
import { hasRole } from "../../../plugins/app/auth.js";
import { ApiError, ErrorCode, invalid } from "../../../plugins/app/api-error.js";
import {
  ApiTokenCreate,
  ApiTokenCreated,
  ApiTokenList,
  ApiTokenParams,
  errorResponses,
  NoContent,
  TOKEN_MAX_DAYS,
} from "@runway/shared/schemas";

const tags = ["auth"];
const DAY_MS = 24 * 3600 * 1000;

/** When a token asked for with `body` expires: null (never), or a time in the future, at most TOKEN_MAX_DAYS away. */
export function tokenExpiry(body: { expiresInDays?: number; expiresAt?: string }, now: Date): Date | null {
  if (body.expiresInDays !== undefined && body.expiresAt !== undefined) throw invalid("body: give expiresInDays or expiresAt, not both");
  if (body.expiresInDays !== undefined) return new Date(now.getTime() + body.expiresInDays * DAY_MS);
  if (body.expiresAt === undefined) return null;
  const at = new Date(body.expiresAt);
  if (at.getTime() <= now.getTime()) throw invalid("body/expiresAt must be in the future");
  if (at.getTime() > now.getTime() + TOKEN_MAX_DAYS * DAY_MS) throw invalid(`body/expiresAt must be at most ${TOKEN_MAX_DAYS} days away`);
  return at;
}

/** Every user may hold API tokens (a viewer's for read-only automation); a token acts with its user's role. */
const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/tokens",
    {
      config: { auth: "viewer" },
      schema: { tags, summary: "List API tokens (your own; admins see everyone's)", response: { 200: ApiTokenList, ...errorResponses } },
    },
    async (req) => {
      const user = req.user!;
      return { tokens: await tokenList(db, hasRole(user, "admin") ? {} : { username: user.username }) };
    },
  );

  app.post(
    "/tokens",
    {
      config: { auth: "viewer", audit: "token.create" },
      schema: {
        tags,
        summary: "Create an API token for yourself (signed in with a session; a token cannot create tokens)",
        description: "The response carries the secret once; only its hash is stored. Optional expiry: expiresInDays or expiresAt.",
        body: ApiTokenCreate,
        response: { 201: ApiTokenCreated, ...errorResponses },
      },
    },
    async (req, reply) => {
      const user = req.user!;
      // A leaked token must not be able to outlive its own revocation by minting successors.
      if (user.via !== "session")
        throw new ApiError(
          403,
          ErrorCode.PERMISSION_DENIED,
          "an API token cannot create API tokens; sign in (POST /api/v1/auth/login) and create it with the session",
        );
      const now = clock.now();
      const expiresAt = tokenExpiry(req.body, now);
      const secret = newApiToken();
      const token = await tokenCreate(db, { username: user.username, name: req.body.name, tokenHash: sha256(secret), now, expiresAt });
      req.audit.target = `token/${token.id}`;
      req.audit.detail = { name: token.name, expiresAt: token.expiresAt };
      return reply.code(201).send({ ...token, token: secret });
    },
  );

  app.delete(
    "/tokens/:id",
    {
      config: { auth: "viewer", audit: "token.revoke" },
      schema: {
        tags,
        summary: "Revoke an API token (yours; admins: anyone's). Idempotent.",
        params: ApiTokenParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      const user = req.user!;
      req.audit.target = `token/${req.params.id}`;
      await tokenRevoke(db, { id: req.params.id, now: clock.now(), ...(hasRole(user, "admin") ? {} : { username: user.username }) });
      return reply.code(204).send(null);
    },
  );
};

export default tokenRoutes;
