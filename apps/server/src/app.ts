import Fastify, { type FastifyInstance } from "fastify";
import type pg from "pg";
import { migrationsCurrent } from "./db/migrate.js";
import type { Metrics } from "./metrics.js";
import type { SchedulerRuntime } from "./scheduler/runtime.js";
import type { Config } from "./config.js";
import type { Db } from "./store/db.js";

export interface AppDeps {
  db: Db;
  pool: pg.Pool;
  config: Config;
  metrics: Metrics;
  runtime?: SchedulerRuntime;
}

/** Builds the HTTP application (routes are thin; the store does the work). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: deps.config.logLevel } });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const ok = await migrationsCurrent(deps.pool).catch(() => false);
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ready" : "not ready" });
  });
  return app;
}
