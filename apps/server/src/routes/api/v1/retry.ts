import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errorResponses, ProjectParams, RetryPolicy, RetryPolicyPatch, TaskRunParams, TaskRunSession } from "@runway/shared/schemas";
import { ApiError, ErrorCode, invalid, notFound } from "../../../plugins/app/api-error.js";
import { retryPolicyGet, retryPolicyUpdate, taskRunTarget } from "../../../store/retry-policy.js";

/** How long the session view may take on the target, connecting included. */
const SESSION_VIEW_TIMEOUT_MS = 3000;

/** A project's automatic-retry settings, and what blocks a running change on its target. */
const retryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/projects/:projectId/retry-policy",
    {
      config: { auth: "viewer" },
      schema: {
        tags: ["projects"],
        summary: "A project's automatic retry settings",
        description: "Defaults when never set: no lock_timeout, 3 retries, 1 s doubling up to 60 s.",
        params: ProjectParams,
        response: { 200: RetryPolicy, ...errorResponses },
      },
    },
    async (req) => retryPolicyGet(db, req.params.projectId),
  );

  app.patch(
    "/projects/:projectId/retry-policy",
    {
      config: { auth: "admin", audit: "project.retry-policy.update" },
      schema: {
        tags: ["projects"],
        summary: "Change a project's automatic retry settings",
        description:
          "A transactional run that fails with 55P03 (lock timeout), 40P01 (deadlock) or 40001 (serialization) goes back to " +
          "PENDING (RETRY_BACKOFF) and runs again after backoffBaseMs × 2^(retry − 1), at most backoffMaxMs, up to maxAutoRetries " +
          "times. lockTimeoutMs applies from the next claimed run. Fields left out keep their values.",
        params: ProjectParams,
        body: RetryPolicyPatch,
        response: { 200: RetryPolicy, ...errorResponses },
      },
    },
    async (req) => {
      const { projectId } = req.params;
      req.audit.target = `project/${projectId}`;
      req.audit.detail = { ...req.body };
      const merged = { ...(await retryPolicyGet(db, projectId)), ...req.body };
      if (merged.backoffBaseMs > merged.backoffMaxMs) {
        throw invalid(`backoffBaseMs (${merged.backoffBaseMs}) must not exceed backoffMaxMs (${merged.backoffMaxMs})`, {
          field: "backoffBaseMs",
        });
      }
      return retryPolicyUpdate(db, { projectId, patch: req.body, actor: req.user!.username, now: clock.now() });
    },
  );

  app.get(
    "/task-runs/:taskRunId/session",
    {
      config: { auth: "viewer" },
      schema: {
        tags: ["tasks"],
        summary: "What a running change is doing on its target, and who blocks it",
        description:
          "For a RUNNING run: its session on the target (pid, state, wait event, time in state; null between statements) and " +
          "the sessions blocking it (pg_blocking_pids). Read with the instance's credentials, read-only, bounded (3 s). " +
          "409 RUN_NOT_RUNNING when the run is not RUNNING (details.status); 502 TARGET_UNREACHABLE when the target " +
          "could not be read (details.error).",
        params: TaskRunParams,
        response: { 200: TaskRunSession, ...errorResponses },
      },
    },
    async (req) => {
      const run = await taskRunTarget(db, req.params.taskRunId);
      if (!run) throw notFound(`task run ${req.params.taskRunId} not found`);
      if (run.status !== "RUNNING") {
        throw new ApiError(409, ErrorCode.RUN_NOT_RUNNING, `task run ${run.id} is ${run.status}, not RUNNING`, { status: run.status });
      }
      try {
        const view = await app.sessionViewer.sessionView(run, { timeoutMs: SESSION_VIEW_TIMEOUT_MS });
        return { ...view, readAt: clock.now().toISOString() };
      } catch (e) {
        throw new ApiError(
          502,
          ErrorCode.TARGET_UNREACHABLE,
          `the target of task run ${run.id} could not be read: ${(e as Error).message}`,
          {
            error: (e as Error).message,
          },
        );
      }
    },
  );
};

export default retryRoutes;
