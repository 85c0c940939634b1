import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { taskRunsCancel } from "../../../store/task-actions.js";
import { taskRunGet, taskRunLogs } from "../../../store/task-reads.js";
import { notFound } from "../../../plugins/app/api-error.js";
import {
  CancelBody,
  CancelResults,
  errorResponses,
  LogEntries,
  LogQuery,
  RolloutParams,
  TaskRun,
  TaskRunParams,
} from "@runway/shared/schemas";
import { decodePageToken, nextToken } from "../../../schemas/page-token.js";

const tags = ["tasks"];

const taskRunRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock, config } = app.ctx;

  app.post(
    "/rollouts/:rolloutId/task-runs/cancel",
    {
      config: { auth: "releaser", audit: "task-runs.cancel" },
      schema: {
        tags,
        summary: "Cancel runs",
        description:
          "PENDING and AVAILABLE runs are canceled at once (CANCELED); RUNNING ones are asked to stop (CANCEL_REQUESTED) and " +
          "their replica aborts the statement. A run in another status, or of another rollout: 409/404 naming it, and nothing changes.",
        params: RolloutParams,
        body: CancelBody,
        response: { 200: CancelResults, ...errorResponses },
      },
    },
    async (req) => {
      const { taskRunIds } = req.body;
      req.audit.target = `rollout/${req.params.rolloutId}`;
      req.audit.detail = { taskRunIds };
      const results = await taskRunsCancel(db, {
        rolloutId: req.params.rolloutId,
        taskRunIds,
        actor: req.user!.username,
        now: clock.now(),
        replicaId: config.replicaId,
      });
      return { results };
    },
  );

  app.get(
    "/task-runs/:taskRunId",
    {
      config: { auth: "viewer" },
      schema: { tags, summary: "A task run", params: TaskRunParams, response: { 200: TaskRun, ...errorResponses } },
    },
    async (req) => {
      const run = await taskRunGet(db, req.params.taskRunId);
      if (!run) throw notFound(`task run ${req.params.taskRunId} not found`);
      return run;
    },
  );

  app.get(
    "/task-runs/:taskRunId/logs",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A run's log entries, oldest first",
        params: TaskRunParams,
        querystring: LogQuery,
        response: { 200: LogEntries, ...errorResponses },
      },
    },
    async (req) => {
      const { pageSize = 500, pageToken } = req.query;
      const { entries, more } = await taskRunLogs(db, {
        taskRunId: req.params.taskRunId,
        limit: pageSize,
        afterId: decodePageToken(pageToken),
      });
      return { entries, nextPageToken: nextToken(entries, more) };
    },
  );
};

export default taskRunRoutes;
