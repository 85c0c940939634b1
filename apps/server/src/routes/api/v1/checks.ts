import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { TaskType } from "@runway/shared";
import {
  CheckOverrideBody,
  CheckPolicy,
  CheckPolicyPatch,
  ChecksRunBody,
  ChecksRunResult,
  errorResponses,
  NoContent,
  ProjectParams,
  RolloutChecks,
  RolloutParams,
  TaskChecks,
  TaskParams,
} from "@runway/shared/schemas";
import { lintTasks } from "../../../checks/lint.js";
import { notFound } from "../../../plugins/app/api-error.js";
import { dryRunsQueue } from "../../../store/dry-runs.js";
import {
  checkPolicyGet,
  checkPolicyUpdate,
  rolloutChecksGet,
  taskCheckOverride,
  taskChecksGet,
  taskChecksLintInputs,
  taskChecksWriteLint,
} from "../../../store/task-checks.js";

const tags = ["checks"];

/** Checks before a change runs (issue 15): lint findings, dry runs, the project's check policy, overrides. */
const checkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/tasks/:taskId/checks",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A task's checks: lint findings, latest dry run, override, and what the project's policy says",
        params: TaskParams,
        response: { 200: TaskChecks, ...errorResponses },
      },
    },
    async (req) => {
      const checks = await taskChecksGet(db, req.params.taskId);
      if (!checks) throw notFound(`task ${req.params.taskId} not found`);
      const { projectId: _p, rolloutId: _r, ...body } = checks;
      return body;
    },
  );

  app.get(
    "/rollouts/:rolloutId/checks",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A rollout's checks: counts by lint severity and dry-run outcome, and per task",
        params: RolloutParams,
        response: { 200: RolloutChecks, ...errorResponses },
      },
    },
    async (req) => {
      const checks = await rolloutChecksGet(db, req.params.rolloutId);
      if (!checks) throw notFound(`rollout ${req.params.rolloutId} not found`);
      return checks;
    },
  );

  app.post(
    "/rollouts/:rolloutId/checks/run",
    {
      config: { auth: "releaser", audit: "checks.run" },
      schema: {
        tags,
        summary: "Lint again and queue dry runs, for all tasks or some",
        description:
          "Lints at once (squawk and Runway's rules, with the project's settings) and queues a dry run per task: each runs on its " +
          "target inside a transaction that is always rolled back, when no sequential change runs on its database. A statement " +
          "that cannot run in a transaction is recorded as CANNOT_DRY_RUN without being executed. Follow progress with " +
          "GET /rollouts/{rolloutId}/checks.",
        params: RolloutParams,
        body: ChecksRunBody,
        response: { 200: ChecksRunResult, ...errorResponses },
      },
    },
    async (req) => {
      const { taskIds, lint = true, dryRun = true } = req.body;
      const rolloutId = req.params.rolloutId;
      req.audit.target = `rollout/${rolloutId}`;
      req.audit.detail = { ...(taskIds ? { taskIds } : {}), lint, dryRun };
      const input = await taskChecksLintInputs(db, { rolloutId, taskIds: taskIds ?? null });
      let linted = 0;
      if (lint) {
        const { ruleOverrides } = await checkPolicyGet(db, input.projectId);
        const results = await lintTasks(
          input.tasks.map((t) => ({ type: t.type as TaskType, statement: t.statement, schemaVersion: t.schemaVersion })),
          { overrides: ruleOverrides },
        );
        await taskChecksWriteLint(db, { rolloutId, taskIds: input.tasks.map((t) => t.id), results, now: clock.now() });
        linted = results.length;
      }
      let queued = 0;
      let cannot = 0;
      if (dryRun) {
        ({ queued, cannot } = await dryRunsQueue(db, {
          rolloutId,
          taskIds: taskIds ?? null,
          requestedBy: req.user!.username,
          now: clock.now(),
        }));
      }
      return { linted, queued, cannot };
    },
  );

  app.post(
    "/tasks/:taskId/checks/override",
    {
      config: { auth: "admin", audit: "checks.override" },
      schema: {
        tags,
        summary: "Let a task run whatever its checks say (admins; the reason is kept and audited)",
        params: TaskParams,
        body: CheckOverrideBody,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `task/${req.params.taskId}`;
      req.audit.detail = { reason: req.body.reason };
      await taskCheckOverride(db, { taskId: req.params.taskId, by: req.user!.username, reason: req.body.reason, now: clock.now() });
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/projects/:projectId/check-policy",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "The project's check policy and lint rule settings",
        params: ProjectParams,
        response: { 200: CheckPolicy, ...errorResponses },
      },
    },
    async (req) => checkPolicyGet(db, req.params.projectId),
  );

  app.patch(
    "/projects/:projectId/check-policy",
    {
      config: { auth: "admin", audit: "checks.policy" },
      schema: {
        tags,
        summary: "Change the project's check policy or rule settings",
        description:
          "blockOnLintErrors: a run request for a task with a lint error is refused (409 CHECKS_FAILED). requireDryRun: a task " +
          "may run only after a passing dry run. ruleOverrides: a rule's severity, or off (squawk's rule names, runway-…).",
        params: ProjectParams,
        body: CheckPolicyPatch,
        response: { 200: CheckPolicy, ...errorResponses },
      },
    },
    async (req) => {
      req.audit.target = `project/${req.params.projectId}`;
      req.audit.detail = { ...req.body };
      return checkPolicyUpdate(db, req.params.projectId, req.body, clock.now());
    },
  );
};

export default checkRoutes;
