import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { migrationsCurrent } from "../db/migrate.js";
import { withClientWithin } from "../store/db.js";
import { replicasLive } from "../store/replicas.js";
import { taskRunsCountActive } from "../store/task-reads.js";

const tags = ["ops"];
const Status = Type.Object({ status: Type.String() });
const NotReady = Type.Object({
  status: Type.Literal("not ready"),
  /** Stable: DATABASE_UNREACHABLE or MIGRATIONS_PENDING. */
  code: Type.Union([Type.Literal("DATABASE_UNREACHABLE"), Type.Literal("MIGRATIONS_PENDING")]),
  message: Type.String(),
});
/**
 * A probe must answer before the prober gives up (Kubernetes' default timeout is 1 s, and load
 * balancers poll every few seconds), whatever state the control-plane connections are in.
 */
const READY_TIMEOUT_MS = 2_000;

/** Probes and metrics: unauthenticated (they reveal counts, never data), served at / and under /api/v1. */
const opsRoutes: FastifyPluginAsyncTypebox<{ hide: boolean }> = async (app, opts) => {
  const { db, pool, metrics, config, clock } = app.ctx;

  app.get("/healthz", { schema: { hide: opts.hide, tags, summary: "Alive", response: { 200: Status } } }, async () => ({ status: "ok" }));

  app.get(
    "/readyz",
    {
      schema: {
        hide: opts.hide,
        tags,
        summary: "Ready: the database answers and every migration is applied",
        description: `Answers within about ${READY_TIMEOUT_MS / 1000} s: 503 with code DATABASE_UNREACHABLE when the control database does not answer in time, MIGRATIONS_PENDING when a migration of this release is not applied.`,
        response: { 200: Status, 503: NotReady },
      },
    },
    async (_req, reply) => {
      let current: boolean;
      try {
        current = await withClientWithin(pool, READY_TIMEOUT_MS, (client) => migrationsCurrent(client));
      } catch (e) {
        return reply
          .code(503)
          .send({ status: "not ready", code: "DATABASE_UNREACHABLE", message: `control database unreachable: ${(e as Error).message}` });
      }
      if (!current)
        return reply
          .code(503)
          .send({ status: "not ready", code: "MIGRATIONS_PENDING", message: "a migration of this release is not applied yet" });
      return { status: "ready" };
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        hide: opts.hide,
        tags,
        summary: "Prometheus metrics",
        description: "Runs by active status and live replicas are read from the database at scrape time; the rest are this replica's.",
      },
    },
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
