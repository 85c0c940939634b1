import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { tasksRunAndClaim, tasksSkip } from "../../../store/task-actions.js";
import { taskGet, taskList, taskRunList } from "../../../store/task-reads.js";
import { taskCount, taskQuery } from "../../../store/task-query.js";
import { decodeTaskPosition, encodeTaskPosition } from "../../../schemas/task-page-token.js";
import { invalid, notFound } from "../../../plugins/app/api-error.js";
import {
  errorResponses,
  RolloutParams,
  RunBody,
  RunResults,
  SkipBody,
  SkipResult,
  Task,
  TaskList,
  TaskListQuery,
  TaskParams,
  TaskRunList,
} from "@runway/shared/schemas";
import { decodeChangeCursor, encodeChangeCursor } from "../../../schemas/change-cursor.js";
import { decodePageToken, nextToken } from "../../../schemas/page-token.js";
import { refuseFailingChecks } from "../../../checks/policy.js";

const tags = ["tasks"];

const taskRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock, runs } = app.ctx;

  app.get(
    "/rollouts/:rolloutId/tasks",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A rollout's tasks with their latest runs",
        description:
          "Filter by derived status (repeat `status`), stage, instance, database, type, error code and a search (`q`); sort by any " +
          "column (`sort`, `order`). PENDING runs carry their waitingCause. " +
          "Every list carries a `cursor`; `updatedSince=<cursor>` lists only the tasks that changed since (a live view " +
          "merges these instead of reloading every task). It may repeat tasks changed shortly before the cursor.",
        params: RolloutParams,
        querystring: TaskListQuery,
        response: { 200: TaskList, ...errorResponses },
      },
    },
    async (req) => {
      const { updatedSince, sort = "id", order = "asc", pageSize = 100, pageToken, ...filter } = req.query;
      const readAt = clock.now(); // before the read: what commits during it shows up again next time
      if (updatedSince !== undefined) {
        // A task that changed out of the filter would silently stay in the client's copy.
        const narrowed = Object.keys(filter).find((k) => k !== "stageId");
        if (narrowed) throw invalid(`querystring/updatedSince cannot be combined with ${narrowed}`);
        if (sort !== "id" || order !== "asc") throw invalid("querystring/updatedSince cannot be combined with sort");
        const { tasks, more } = await taskList(db, {
          rolloutId: req.params.rolloutId,
          limit: pageSize,
          afterId: decodePageToken(pageToken),
          ...(filter.stageId !== undefined ? { stageId: filter.stageId } : {}),
          changedSince: decodeChangeCursor(updatedSince),
        });
        return { tasks, nextPageToken: nextToken(tasks, more), cursor: encodeChangeCursor(readAt) };
      }
      const rolloutId = req.params.rolloutId;
      const page = await taskQuery(db, {
        rolloutId,
        filter,
        sort,
        order,
        limit: pageSize,
        position: decodeTaskPosition(pageToken, sort === "id"),
      });
      // A searched, narrowed or sorted view says how many match (a plain list's statuses are counted by the chips).
      const view = Object.keys(filter).some((k) => k !== "status" && k !== "stageId") || sort !== "id" || order !== "asc";
      const total = view && !pageToken ? { total: await taskCount(db, rolloutId, filter) } : {};
      return { tasks: page.tasks, nextPageToken: encodeTaskPosition(page.next), ...total, cursor: encodeChangeCursor(readAt) };
    },
  );

  app.post(
    "/rollouts/:rolloutId/tasks/run",
    {
      config: { auth: "releaser", audit: "tasks.run" },
      schema: {
        tags,
        summary: "Run, schedule or retry tasks",
        description:
          "Idempotent per task: an active task reports ALREADY_ACTIVE, a DONE one ALREADY_DONE, a SKIPPED one TASK_SKIPPED. " +
          "FAILED and CANCELED tasks get a new attempt. `runAt` in the past means now.",
        params: RolloutParams,
        body: RunBody,
        response: { 200: RunResults, ...errorResponses },
      },
    },
    async (req) => {
      const { taskIds, runAt } = req.body;
      req.audit.target = `rollout/${req.params.rolloutId}`;
      req.audit.detail = { taskIds, ...(runAt ? { runAt } : {}) };
      await refuseFailingChecks(db, req.params.rolloutId, taskIds);
      // A run no gate can hold starts on this replica at once when it has a free executor slot.
      const { results } = await runs.create((claim) =>
        tasksRunAndClaim(db, {
          rolloutId: req.params.rolloutId,
          taskIds,
          runAt: runAt ? new Date(runAt) : null,
          actor: req.user!.username,
          now: clock.now(),
          claim,
        }),
      );
      req.audit.detail.created = results.filter((r) => r.taskRunId).map((r) => r.taskRunId);
      return { results };
    },
  );

  app.post(
    "/rollouts/:rolloutId/tasks/skip",
    {
      config: { auth: "releaser", audit: "tasks.skip" },
      schema: {
        tags,
        summary: "Skip tasks (all or nothing)",
        description: "Only NOT_STARTED, FAILED or CANCELED tasks; otherwise 409 naming each offending task, and nothing is skipped.",
        params: RolloutParams,
        body: SkipBody,
        response: { 200: SkipResult, ...errorResponses },
      },
    },
    async (req) => {
      const { taskIds, reason } = req.body;
      req.audit.target = `rollout/${req.params.rolloutId}`;
      req.audit.detail = { taskIds, reason };
      await tasksSkip(db, { rolloutId: req.params.rolloutId, taskIds, reason, now: clock.now() });
      return { skipped: taskIds };
    },
  );

  app.get(
    "/tasks/:taskId",
    {
      config: { auth: "viewer" },
      schema: { tags, summary: "A task with its latest run", params: TaskParams, response: { 200: Task, ...errorResponses } },
    },
    async (req) => {
      const task = await taskGet(db, req.params.taskId);
      if (!task) throw notFound(`task ${req.params.taskId} not found`);
      return task;
    },
  );

  app.get(
    "/tasks/:taskId/runs",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "Every run of a task, latest attempt first",
        params: TaskParams,
        response: { 200: TaskRunList, ...errorResponses },
      },
    },
    async (req) => ({ runs: await taskRunList(db, req.params.taskId) }),
  );
};

export default taskRoutes;
