import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errorResponses, RolloutBlockers, RolloutParams } from "@runway/shared/schemas";
import { rolloutRootBlockers } from "../../../store/blockers.js";
import { rolloutGet } from "../../../store/rollout-reads.js";
import { notFound } from "../../../plugins/app/api-error.js";

const STUCK = new Set(["FAILED", "CANCELED"]);

const blockerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.ctx;

  app.get(
    "/rollouts/:rolloutId/blockers",
    {
      config: { auth: "viewer" },
      schema: {
        tags: ["rollouts"],
        summary: "Root-blocker summary: which tasks hold the rollout's waiting tasks, per rollout and stage",
        description:
          "Follows chains of waiting causes that name a task (VERSION_ORDER, BLOCKED_BY_FAILED, DATABASE_BUSY) to the " +
          "task at their end, in one query. `blocked` per stage counts tasks held by a FAILED or CANCELED root.",
        params: RolloutParams,
        response: { 200: RolloutBlockers, ...errorResponses },
      },
    },
    async (req) => {
      const rollout = await rolloutGet(db, req.params.rolloutId);
      if (!rollout) throw notFound(`rollout ${req.params.rolloutId} not found`);
      const roots = await rolloutRootBlockers(db, req.params.rolloutId);
      const stages = rollout.stages.map((s) => {
        let held = 0;
        let blocked = 0;
        for (const r of roots) {
          const n = r.heldByStage[s.id] ?? 0;
          held += n;
          if (STUCK.has(r.status)) blocked += n;
        }
        return { stageId: s.id, held, blocked };
      });
      return {
        held: roots.reduce((n, r) => n + r.held, 0),
        roots: roots.map((r) => ({
          taskId: r.taskId,
          rolloutId: r.rolloutId,
          status: r.status as never,
          schemaVersion: r.schemaVersion,
          database: r.database,
          runId: r.runId,
          since: (r.status === "RUNNING" ? r.startedAt : STUCK.has(r.status) ? r.finishedAt : null)?.toISOString() ?? null,
          held: r.held,
          heldByStage: r.heldByStage,
          // Why the end of the chain waits itself (the reason behind every VERSION_ORDER it causes).
          waitingCause: (r.status === "PENDING" ? r.waitingCause : null) as never,
        })),
        stages,
      };
    },
  );
};

export default blockerRoutes;
