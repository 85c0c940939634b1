import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from "fastify";
import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import { withLeastRole } from "./openapi-roles.js";

/** Response headers that belong to the inner answer's transport, not to the answer. */
const HOP_HEADERS = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "date"]);

/**
 * The OpenAPI document, its UI (/api/docs) and the dashboard's files, served by a second Fastify instance
 * that is built on the first request for any of them, not at start-up (issue 20): @fastify/swagger with
 * yaml, @fastify/swagger-ui, and @fastify/static with send, mime and glob were about a fifth of a start's
 * CPU, and an API replica behind a load balancer may never serve one of them.
 *
 * The application keeps the route list (an onRoute hook, as @fastify/swagger keeps it) and replays it into
 * the inner instance, so the document is built from the same schemas. The application forwards requests
 * with `inject` and sends the answer itself, so its own hooks (security headers, logging, errors) apply as
 * before; the files are small enough to be buffered.
 */
export class AssetsServer {
  private readonly routes: RouteOptions[] = [];
  private dashboardDir: string | undefined;
  private built: Promise<FastifyInstance> | undefined;

  constructor(
    private readonly openapi: FastifyDynamicSwaggerOptions["openapi"],
    private readonly docsPrefix: string,
  ) {}

  /** The application's onRoute hook: keeps what the document lists (hidden and HEAD routes never are). */
  collect(route: RouteOptions): void {
    if (route.method === "HEAD" || (route.schema as { hide?: boolean } | undefined)?.hide) return;
    this.routes.push(route);
  }

  /** Serves the built dashboard in `dir` at / (before the first request). */
  serveDashboard(dir: string): void {
    this.dashboardDir = dir;
  }

  /** The inner instance, built once (again after a failed build). */
  instance(): Promise<FastifyInstance> {
    this.built ??= this.build().catch((err: unknown) => {
      this.built = undefined;
      throw err;
    });
    return this.built;
  }

  /**
   * Answers `req` with the inner instance's answer for GET `url` (HEAD is stripped by the application).
   * A 404 goes to `notFound`, so unknown paths get the application's own not-found handling.
   */
  async forward(req: FastifyRequest, reply: FastifyReply, url: string, notFound: () => unknown): Promise<unknown> {
    const inner = await this.instance();
    const res = await inner.inject({ method: "GET", url, headers: req.headers });
    if (res.statusCode === 404) return notFound();
    for (const [name, value] of Object.entries(res.headers))
      if (value !== undefined && !HOP_HEADERS.has(name)) void reply.header(name, value);
    return reply.code(res.statusCode).send(res.rawPayload);
  }

  async close(): Promise<void> {
    const inner = await this.built?.catch(() => undefined);
    await inner?.close();
  }

  private async build(): Promise<FastifyInstance> {
    const [{ default: swagger }, { default: swaggerUi }, { default: fastifyStatic }] = await Promise.all([
      import("@fastify/swagger"),
      import("@fastify/swagger-ui"),
      import("@fastify/static"),
    ]);
    const inner = Fastify({ logger: false });
    // No request reaches the replayed routes: only their schemas' shape is read, never compiled.
    inner.setValidatorCompiler(() => () => true);
    inner.setSerializerCompiler(() => (data) => JSON.stringify(data));
    await inner.register(swagger, { openapi: this.openapi, transform: withLeastRole });
    await inner.register(swaggerUi, {
      routePrefix: this.docsPrefix,
      uiConfig: { deepLinking: true, tryItOutEnabled: false, validatorUrl: null },
    });
    if (this.dashboardDir) await inner.register(fastifyStatic, { root: this.dashboardDir, prefix: "/", wildcard: true, schemaHide: true });
    for (const r of this.routes)
      inner.route({
        method: r.method,
        url: r.url,
        ...(r.schema ? { schema: r.schema } : {}),
        ...(r.config ? { config: r.config } : {}),
        ...(r.constraints ? { constraints: r.constraints } : {}),
        handler: notServed,
      });
    await inner.ready();
    return inner;
  }
}

async function notServed(_req: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).send();
}
