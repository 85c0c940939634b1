import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { newApiToken, sha256 } from "../../../auth/secrets.js";
import { tokenCreate, tokenList, tokenRevoke } from "../../../store/tokens.js";
import { hasRole } from "../../../plugins/app/auth.js";
import { ApiTokenCreate, ApiTokenCreated, ApiTokenList, ApiTokenParams, errorResponses, NoContent } from "@runway/shared/schemas";

const tags = ["auth"];

/** Every user may hold API tokens (a viewer's for read-only automation); a token acts with its user's role. */
const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/tokens",
    { config: { auth: "viewer" }, schema: { tags, summary: "List API tokens (your own; admins see everyone's)", response: { 200: ApiTokenList, ...errorResponses } } },
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
        summary: "Create an API token for yourself",
        description: "The response carries the secret once; only its hash is stored.",
        body: ApiTokenCreate,
        response: { 201: ApiTokenCreated, ...errorResponses },
      },
    },
    async (req, reply) => {
      const secret = newApiToken();
      const token = await tokenCreate(db, { username: req.user!.username, name: req.body.name, tokenHash: sha256(secret), now: clock.now() });
      req.audit.target = `token/${token.id}`;
      req.audit.detail = { name: token.name };
      return reply.code(201).send({ ...token, token: secret });
    },
  );

  app.delete(
    "/tokens/:id",
    {
      config: { auth: "viewer", audit: "token.revoke" },
      schema: { tags, summary: "Revoke an API token (yours; admins: anyone's). Idempotent.", params: ApiTokenParams, response: { 204: NoContent, ...errorResponses } },
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
