import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { migrationsCurrent } from "../db/migrate.js";
import { replicasLive } from "../store/replicas.js";
import { taskRunsCountActive } from "../store/task-reads.js";

const tags = ["ops"];
const Status = Type.Object({ status: Type.String() });

/** Probes and metrics: unauthenticated (they reveal counts, never data), served at / and under /api/v1. */
const opsRoutes: FastifyPluginAsyncTypebox<{ hide: boolean }> = async (app, opts) => {
  const { db, pool, metrics, config, clock } = app.ctx;

  app.get("/healthz", { schema: { hide: opts.hide, tags, summary: "Alive", response: { 200: Status } } }, async () => ({ status: "ok" }));

  app.get(
    "/readyz",
    { schema: { hide: opts.hide, tags, summary: "Ready: the database answers and every migration is applied", response: { 200: Status, 503: Status } } },
    async (_req, reply) => {
      const ok = await migrationsCurrent(pool).catch(() => false);
      return reply.code(ok ? 200 : 503).send({ status: ok ? "ready" : "not ready" });
    },
  );

  app.get(
    "/metrics",
    { schema: { hide: opts.hide, tags, summary: "Prometheus metrics", description: "Runs by active status and live replicas are read from the database at scrape time; the rest are this replica's." } },
    async (_req, reply) => {
      const now = clock.now();
      const [byStatus, live] = await Promise.all([
        taskRunsCountActive(db),
        // A replica whose heartbeat is older than a lease is one the sweeper would treat as gone.
        replicasLive(db, { now, withinMs: config.leaseTtlMs }),
      ]);
      for (const [status, n] of Object.entries(byStatus)) metrics.runsByStatus.set({ status }, n);
      metrics.liveReplicas.set(live.length);
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    },
  );
};

export default opsRoutes;
