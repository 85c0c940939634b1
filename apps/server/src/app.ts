import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type pg from "pg";
import { REPO_ROOT, type Config } from "./config.js";
import type { Metrics } from "./metrics.js";
import type { SchedulerRuntime } from "./scheduler/runtime.js";
import { systemClock, type Clock } from "./scheduler/clock.js";
import type { Db } from "./store/db.js";
import type { Trust } from "./trust.js";
import validation from "./plugins/external/validation.js";
import http from "./plugins/external/http.js";
import openapi from "./plugins/external/swagger.js";
import dashboard from "./plugins/external/dashboard.js";
import context from "./plugins/app/context.js";
import errors, { sendError } from "./plugins/app/errors.js";
import auth from "./plugins/app/auth.js";
import audit from "./plugins/app/audit.js";
import projectAccess from "./plugins/app/project-access.js";
import changeFeed from "./plugins/app/change-feed.js";
import bootstrap from "./plugins/app/bootstrap.js";
import apiV1 from "./routes/api/v1/index.js";
import opsRoutes from "./routes/ops.js";

export interface AppDeps {
  db: Db;
  pool: pg.Pool;
  config: Config;
  metrics: Metrics;
  /** The control database's URL: the SSE change feed holds its own LISTEN connection. */
  databaseUrl: string;
  /** Secret sealing and the target guard (trust.ts: startTrust). */
  trust: Trust;
  runtime?: SchedulerRuntime;
  clock?: Clock;
  /** Built dashboard to serve at / (default apps/dashboard/dist; skipped when absent). */
  dashboardDir?: string;
  /** Where the generated admin password is printed once (default: stdout). */
  print?: (line: string) => void;
  /** SSE coalescing window (tests shorten it). */
  changeWindowMs?: number;
}

/** Every route's body is capped; only rollout creation raises its own limit. */
const BODY_LIMIT = 1024 * 1024;

/**
 * Builds the HTTP application. Plugins load in tiers: external infrastructure (validation, cookies, rate
 * limits, SSE, OpenAPI, static files), then the app's own (context, errors, auth, audit, change feed,
 * admin bootstrap), then thin routes that call the store.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.config.logLevel },
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    // Malformed URLs (bad percent-encoding) fail before routing; they get the same envelope as the rest.
    frameworkErrors: sendError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(validation);
  await app.register(http);
  await app.register(openapi);
  await app.register(context, { db: deps.db, pool: deps.pool, config: deps.config, metrics: deps.metrics, clock: deps.clock ?? systemClock, trust: deps.trust });
  await app.register(errors);
  await app.register(auth);
  await app.register(projectAccess);
  await app.register(audit);
  await app.register(changeFeed, { databaseUrl: deps.databaseUrl, ...(deps.changeWindowMs !== undefined ? { windowMs: deps.changeWindowMs } : {}) });
  await app.register(bootstrap, { print: deps.print ?? ((line: string) => console.log(line)) });

  await app.register(opsRoutes, { hide: false });
  await app.register(apiV1, { prefix: "/api/v1" });
  await app.register(dashboard, { dir: deps.dashboardDir ?? path.join(REPO_ROOT, "apps/dashboard/dist") });
  return app;
}
