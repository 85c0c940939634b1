import { existsSync } from "node:fs";
import path from "node:path";
import fp from "fastify-plugin";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode } from "../app/api-error.js";

function apiNotFound(req: FastifyRequest, reply: FastifyReply) {
  req.errorCode = ErrorCode.NOT_FOUND;
  return reply.code(404).send({ error: { code: ErrorCode.NOT_FOUND, message: `no route ${req.method} ${req.url.split("?")[0]}` } });
}

/**
 * Serves the built dashboard (when `dir` has an index.html) with an SPA fallback: an unknown GET outside
 * /api that looks like a page (no file extension) gets index.html so client-side routes survive a reload.
 * Everything else that matches no route is a JSON 404.
 */
export default fp(
  async function dashboard(app: FastifyInstance, opts: { dir: string }) {
    const enabled = existsSync(path.join(opts.dir, "index.html"));
    if (enabled) {
      // The files are served by the assets server, loaded on the first request (http/assets-server.ts).
      app.assets.serveDashboard(opts.dir);
      app.get("/*", { schema: { hide: true } }, (req, reply) => app.assets.forward(req, reply, req.url, () => reply.callNotFound()));
    }
    app.setNotFoundHandler(
      // An attacker could search for valid URLs if 404s were not rate limited.
      { preHandler: app.rateLimit({ max: 1000, timeWindow: 60_000 }) },
      (req, reply) => {
        const pathname = req.url.split("?")[0] ?? "/";
        const isPage = (req.method === "GET" || req.method === "HEAD") && !pathname.startsWith("/api") && !path.extname(pathname);
        if (enabled && isPage) return app.assets.forward(req, reply, "/index.html", () => apiNotFound(req, reply));
        return apiNotFound(req, reply);
      },
    );
  },
  { name: "runway-dashboard", dependencies: ["runway-http", "runway-openapi"] },
);
