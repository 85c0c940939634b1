import Fastify, { type FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type pg from "pg";
import type { Config } from "./config.js";
import { DASHBOARD_DIR } from "./paths.js";
import { lazySerializerFactory } from "./http/lazy-compile.js";
import type { Metrics } from "./metrics.js";
import type { Listener } from "./db/listener.js";
import { systemClock, type Clock } from "./scheduler/clock.js";
import type { Db } from "./store/db.js";
import type { Trust } from "./trust.js";
import validation from "./plugins/external/validation.js";
import http from "./plugins/external/http.js";
import securityHeaders, { PRE_ROUTING_HEADERS } from "./plugins/external/security-headers.js";
import openapi from "./plugins/external/swagger.js";
import dashboard from "./plugins/external/dashboard.js";
import context from "./plugins/app/context.js";
import errors, { sendError } from "./plugins/app/errors.js";
import auth from "./plugins/app/auth.js";
import audit from "./plugins/app/audit.js";
import projectAccess from "./plugins/app/project-access.js";
import knownScope from "./plugins/app/known-scope.js";
import changeFeed from "./plugins/app/change-feed.js";
import streams from "./plugins/app/streams.js";
import bootstrap from "./plugins/app/bootstrap.js";
import sessionViewer from "./plugins/app/session-viewer.js";
import type { SessionViewer } from "./executors/session-view.js";
import { LocalRuns } from "./scheduler/local-runs.js";
import apiV1 from "./routes/api/v1/index.js";
import opsRoutes from "./routes/ops.js";

export interface AppDeps {
  db: Db;
  pool: pg.Pool;
  config: Config;
  metrics: Metrics;
  /** The control database's URL (the SSE change feed's LISTEN connection when no `listener` is given). */
  databaseUrl: string;
  /** The replica's LISTEN connection, shared by its schedulers and the change feed. */
  listener?: Listener;
  /** Secret sealing and the target guard (trust.ts: startTrust). */
  trust: Trust;
  clock?: Clock;
  /** Built dashboard to serve at / (default apps/dashboard/dist; skipped when absent). */
  dashboardDir?: string;
  /** Where the generated admin password is printed once (default: stdout). */
  print?: (line: string) => void;
  /** SSE coalescing window (tests shorten it). */
  changeWindowMs?: number;
  /** Reads running changes' target sessions (the replica's executor; default: an executor of the app's own). */
  sessions?: SessionViewer;
  /** The replica's running scheduler, attached once built: the API's new runs may start on it at once (default: none). */
  runs?: LocalRuns;
}

/** Every route's body is capped; only rollout creation raises its own limit. */
const BODY_LIMIT = 1024 * 1024;
/**
 * A connection silent in both directions this long is closed. Longer than the SSE heartbeat (15 s), so
 * idle streams survive; slow bodies and slow headers are cut sooner by the request and header timeouts.
 */
const IDLE_SOCKET_TIMEOUT_MS = 60_000;

/** Fastify's trustProxy: a hop count becomes "believe the nearest n proxies". */
function trustProxyOption(t: Config["trustProxy"]): boolean | string[] | ((addr: string, hop: number) => boolean) {
  return typeof t === "number" ? (_addr, hop) => hop < t : t;
}

/**
 * Builds the HTTP application. Plugins load in tiers: external infrastructure (security headers, validation,
 * cookies, rate limits, SSE, OpenAPI, static files), then the app's own (context, errors, auth, audit, change feed,
 * admin bootstrap), then thin routes that call the store.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.config.logLevel },
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    trustProxy: trustProxyOption(deps.config.trustProxy),
    requestTimeout: deps.config.requestTimeoutMs,
    keepAliveTimeout: deps.config.keepAliveTimeoutMs,
    connectionTimeout: IDLE_SOCKET_TIMEOUT_MS,
    // Node checks the request and header timeouts every connectionsCheckingInterval (default 30 s).
    http: { headersTimeout: deps.config.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    // Malformed URLs (bad percent-encoding) fail before routing; they get the same envelope as the rest.
    frameworkErrors: (err, req, reply) => sendError(err, req, reply.headers(PRE_ROUTING_HEADERS)),
    // Response serializers are compiled on first use, not at start-up (http/lazy-compile.ts).
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory() } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(securityHeaders);
  await app.register(validation);
  await app.register(http);
  await app.register(openapi);
  await app.register(context, {
    db: deps.db,
    pool: deps.pool,
    config: deps.config,
    metrics: deps.metrics,
    clock: deps.clock ?? systemClock,
    trust: deps.trust,
    runs: deps.runs ?? new LocalRuns(),
  });
  await app.register(errors);
  await app.register(auth);
  await app.register(projectAccess);
  await app.register(knownScope);
  await app.register(audit);
  await app.register(changeFeed, {
    databaseUrl: deps.databaseUrl,
    ...(deps.listener ? { listener: deps.listener } : {}),
    ...(deps.changeWindowMs !== undefined ? { windowMs: deps.changeWindowMs } : {}),
  });
  await app.register(streams);
  await app.register(sessionViewer, { viewer: deps.sessions, trust: deps.trust });
  await app.register(bootstrap, { print: deps.print ?? ((line: string) => console.log(line)) });

  await app.register(opsRoutes, { hide: false });
  await app.register(apiV1, { prefix: "/api/v1" });
  await app.register(dashboard, { dir: deps.dashboardDir ?? DASHBOARD_DIR });
  return app;
}
