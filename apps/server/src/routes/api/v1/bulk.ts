import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { BulkBody, BulkResults, errorResponses, RolloutParams } from "@runway/shared/schemas";
import { tasksBulk } from "../../../store/bulk-actions.js";
import { rolloutExists } from "../../../store/rollout-reads.js";
import { invalid, notFound } from "../../../plugins/app/api-error.js";

const bulkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock, config } = app.ctx;

  app.post(
    "/rollouts/:rolloutId/tasks/bulk",
    {
      config: { auth: "releaser", audit: "tasks.bulk" },
      schema: {
        tags: ["tasks"],
        summary: "Run, schedule, retry, cancel or skip many tasks, best-effort per task",
        description:
          "Target `taskIds` or every task matching `filter` (resolved by the server, in the same transaction as the action). " +
          "Each task is decided on its state under the row lock: CHANGED, ALREADY (in the wanted state) or NOT_ALLOWED with a " +
          "`reason`. With `atomic: true` nothing changes unless every task allows the action (409 listing those that do not). " +
          "`dryRun: true` only reports what would happen now.",
        params: RolloutParams,
        body: BulkBody,
        response: { 200: BulkResults, ...errorResponses },
      },
    },
    async (req) => {
      const { action, taskIds, filter, runAt, reason, atomic = false, dryRun = false } = req.body;
      if ((taskIds === undefined) === (filter === undefined)) throw invalid("body must have exactly one of taskIds and filter");
      const now = clock.now();
      if (action === "schedule" && (!runAt || new Date(runAt).getTime() <= now.getTime()))
        throw invalid("body/runAt must be in the future to schedule");
      if (action === "skip" && !reason?.trim()) throw invalid("body/reason is required to skip");
      if (!(await rolloutExists(db, req.params.rolloutId))) throw notFound(`rollout ${req.params.rolloutId} not found`);
      req.audit.target = `rollout/${req.params.rolloutId}`;
      req.audit.detail = { action, ...(taskIds ? { tasks: taskIds.length } : { filter }), atomic, dryRun };
      const results = await tasksBulk(db, {
        rolloutId: req.params.rolloutId,
        action,
        ...(taskIds ? { taskIds } : {}),
        ...(filter ? { filter } : {}),
        runAt: runAt ? new Date(runAt) : null,
        reason: reason?.trim() ?? "",
        atomic,
        dryRun,
        actor: req.user!.username,
        now,
        replicaId: config.replicaId,
      });
      const counts = { CHANGED: 0, ALREADY: 0, NOT_ALLOWED: 0 };
      for (const r of results) counts[r.result]++;
      req.audit.detail.counts = counts;
      return { action, results, counts };
    },
  );
};

export default bulkRoutes;
