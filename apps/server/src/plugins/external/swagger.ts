import fp from "fastify-plugin";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AssetsServer } from "../../http/assets-server.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The OpenAPI document, its UI and the dashboard's files, loaded on first use (http/assets-server.ts). */
    assets: AssetsServer;
  }
}

/**
 * OpenAPI document built from the routes' TypeBox schemas; UI at /api/docs, JSON at /api/openapi.json.
 * Registered before the routes: it keeps the list of them for the document.
 */
export default fp(
  async function openapi(app: FastifyInstance) {
    const assets = new AssetsServer(
      {
        openapi: "3.1.0",
        info: {
          title: "Runway API",
          version: "1",
          description:
            "Rollout scheduler for database changes. Sign in with POST /api/v1/auth/login (session cookie; send " +
            "the csrfToken from the response or GET /api/v1/auth/me as the x-csrf-token header on mutations), or " +
            "use an API token: `Authorization: Bearer rwt_…`. Errors are `{error: {code, message, details?}}`.",
        },
        components: {
          securitySchemes: {
            session: { type: "apiKey", in: "cookie", name: "runway_session" },
            csrf: { type: "apiKey", in: "header", name: "x-csrf-token" },
            bearer: { type: "http", scheme: "bearer", description: "API token from POST /api/v1/tokens" },
          },
        },
        security: [{ bearer: [] }, { session: [], csrf: [] }],
        tags: [
          { name: "auth", description: "Sessions, users, API tokens, audit log" },
          { name: "projects" },
          { name: "instances" },
          { name: "rollouts" },
          { name: "tasks", description: "Run, skip, cancel; runs and their logs" },
          { name: "events", description: "Server-Sent Events" },
          { name: "webhooks", description: "Project webhooks, delivery logs, test events" },
          { name: "ops", description: "Health and metrics" },
          { name: "checks", description: "Lint findings, dry runs, check policy (issue 15)" },
        ],
      },
      "/api/docs",
    );
    app.decorate("assets", assets);
    app.addHook("onRoute", (route) => assets.collect(route));
    app.addHook("onClose", () => assets.close());
    const docs = (req: FastifyRequest, reply: FastifyReply) => assets.forward(req, reply, req.url, () => reply.callNotFound());
    app.get("/api/docs", { schema: { hide: true } }, docs);
    app.get("/api/docs/*", { schema: { hide: true } }, docs);
    app.get("/api/openapi.json", { schema: { hide: true } }, async () => (await assets.instance()).swagger());
  },
  { name: "runway-openapi" },
);
