import fp from "fastify-plugin";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

/** OpenAPI document built from the routes' TypeBox schemas; UI at /api/docs, JSON at /api/openapi.json. */
export default fp(
  async function openapi(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
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
    });
    await app.register(swaggerUi, {
      routePrefix: "/api/docs",
      uiConfig: { deepLinking: true, tryItOutEnabled: false, validatorUrl: null },
    });
    app.get("/api/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  },
  { name: "runway-openapi" },
);
