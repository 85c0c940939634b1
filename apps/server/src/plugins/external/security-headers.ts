import fp from "fastify-plugin";
import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";

/**
 * The dashboard's and the API docs' Content-Security-Policy. Everything from our own origin, nothing
 * inline that can run: scripts only from files we serve ('self', no 'unsafe-inline', no eval), no plugins,
 * no <base>, no framing by anyone.
 *
 * style-src allows 'unsafe-inline', for styles only, because naive-ui (through css-render) builds its
 * component styles at run time and inserts them as <style> elements, and it has no way to put a nonce on
 * them; Swagger UI does the same. An injected style cannot run code; what it could do (restyle the page,
 * leak attribute values through selectors to an image URL) needs an HTML injection that Vue's escaping
 * already prevents, and img-src/connect-src 'self' stop it from reaching another origin anyway.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * For the few answers Fastify makes before routing (a malformed URL), where no hook runs: a JSON error
 * body needs no more than this.
 */
export const PRE_ROUTING_HEADERS = {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
} as const;

/** HSTS is sent only over TLS: on plain HTTP it means nothing, and on a LAN install it must not stick. */
const HSTS = "max-age=31536000; includeSubDomains";

/**
 * Security headers on every answer (helmet's onRequest hook runs before auth, so refusals get them too),
 * and `Cache-Control: no-store` on every API answer: they are per user and live, and some carry secrets
 * (a new session's CSRF token, a new API token), which no browser or proxy cache may keep.
 */
export default fp(
  async function securityHeaders(app: FastifyInstance) {
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
      strictTransportSecurity: false,
      xFrameOptions: { action: "deny" },
      referrerPolicy: { policy: "no-referrer" },
      crossOriginEmbedderPolicy: false,
    });
    app.addHook("onSend", async (req, reply, payload) => {
      // req.protocol follows X-Forwarded-Proto only when RUNWAY_TRUST_PROXY trusts the proxy.
      if (req.protocol === "https") reply.header("strict-transport-security", HSTS);
      if (req.url.startsWith("/api/v1/")) reply.header("cache-control", "no-store");
      return payload;
    });
  },
  { name: "runway-security-headers" },
);
