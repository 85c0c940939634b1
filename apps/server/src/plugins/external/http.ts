import fp from "fastify-plugin";
import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import { fastifySSE } from "@fastify/sse";
import type { FastifyInstance } from "fastify";
import { ApiError, ErrorCode } from "../app/api-error.js";

/**
 * A request that took longer than this is logged at warn, with its route and status: at the default log
 * level nothing else says that an answer was slow (a lock wait, a starved pool, a silent target).
 */
export const SLOW_REQUEST_MS = 2_000;

/** HTTP infrastructure the app plugins build on: cookies, rate limiting (opt-in per route), SSE. */
export default fp(
  async function http(app: FastifyInstance, opts: { slowRequestMs?: number }) {
    const slowMs = opts.slowRequestMs ?? SLOW_REQUEST_MS;
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
    app.addHook("onResponse", async (req, reply) => {
      // An event stream's response lasts as long as the page stays open: long by design.
      if (reply.elapsedTime < slowMs || String(reply.getHeader("content-type") ?? "").startsWith("text/event-stream")) return;
      req.log.warn(
        { method: req.method, route: req.routeOptions.url ?? req.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        "slow request",
      );
    });
  },
  { name: "runway-http" },
);
