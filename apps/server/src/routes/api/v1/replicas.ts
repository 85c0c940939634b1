import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { capacityOf } from "@runway/shared";
import { errorResponses, ReplicaList } from "@runway/shared/schemas";
import { replicasCapacity } from "../../../store/replicas.js";

/** Executor capacity (issue 14 point 6): what the dashboard's header shows and why AVAILABLE runs wait. */
const replicaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock, config } = app.ctx;

  app.get(
    "/replicas",
    {
      config: { auth: "viewer" },
      schema: {
        tags: ["ops"],
        summary: "Live replicas and their executor slots",
        description:
          "Each replica with a heartbeat younger than a lease: its executor slots (RUNWAY_CONCURRENCY) and the runs it executes now. " +
          "`capacity.allBusy` says that AVAILABLE runs wait for a free executor: every replica that may claim has all its slots in use. " +
          "One query, whatever the number of runs.",
        response: { 200: ReplicaList, ...errorResponses },
      },
    },
    async () => {
      // Like /metrics: a replica silent for longer than a lease is one the sweeper treats as gone.
      const rows = await replicasCapacity(db, { now: clock.now(), withinMs: config.leaseTtlMs });
      return {
        replicas: rows.map((r) => ({ ...r, startedAt: r.startedAt.toISOString(), heartbeatAt: r.heartbeatAt.toISOString() })),
        capacity: capacityOf(rows),
      };
    },
  );
};

export default replicaRoutes;
