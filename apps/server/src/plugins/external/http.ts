import fp from "fastify-plugin";
import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import { fastifySSE } from "@fastify/sse";
import type { FastifyInstance } from "fastify";
import { ApiError, ErrorCode } from "../app/api-error.js";

/** HTTP infrastructure the app plugins build on: cookies, rate limiting (opt-in per route), SSE. */
export default fp(
  async function http(app: FastifyInstance) {
    await app.register(cookie);
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: (_req, ctx) =>
        new ApiError(
          429,
          ErrorCode.RATE_LIMITED,
          `too many requests: at most ${ctx.max} per ${ctx.after}; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
        ),
    });
    // Proxies close connections that stay silent; a comment line every 15 s keeps an idle stream open.
    await app.register(fastifySSE, { heartbeatInterval: 15_000 });
  },
  { name: "runway-http" },
);
