import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { TaskType } from "@runway/shared";
import { rolloutCreate } from "../../../store/rollouts.js";
import { checkPolicyGet } from "../../../store/task-checks.js";
import { lintForCreate } from "../../../checks/lint.js";
import { rolloutGet, rolloutList } from "../../../store/rollout-reads.js";
import { invalid, notFound } from "../../../plugins/app/api-error.js";
import { duplicateVersions } from "../../../domain/duplicate-versions.js";
import { refusalSummary } from "../../../domain/refusals.js";
import {
  errorResponses,
  MAX_TASKS_PER_ROLLOUT,
  ProjectParams,
  Rollout,
  RolloutCreate,
  RolloutList,
  RolloutListQuery,
  RolloutParams,
} from "@runway/shared/schemas";
import { decodePageToken, nextToken } from "../../../schemas/page-token.js";

const tags = ["rollouts"];
/** Room for MAX_TASKS_PER_ROLLOUT tasks with sizeable statements; every other route keeps the 1 MiB default. */
const CREATE_BODY_LIMIT = 16 * 1024 * 1024;

const rolloutRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/projects/:projectId/rollouts",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A project's rollouts, newest first, with task counts by status",
        params: ProjectParams,
        querystring: RolloutListQuery,
        response: { 200: RolloutList, ...errorResponses },
      },
    },
    async (req) => {
      const { pageSize = 50, pageToken } = req.query;
      const { rollouts, more } = await rolloutList(db, {
        projectId: req.params.projectId,
        limit: pageSize,
        beforeId: decodePageToken(pageToken),
      });
      return { rollouts, nextPageToken: nextToken(rollouts, more) };
    },
  );

  app.post(
    "/projects/:projectId/rollouts",
    {
      bodyLimit: CREATE_BODY_LIMIT,
      config: { auth: "releaser", audit: "rollout.create" },
      schema: {
        tags,
        summary: "Create a rollout: stages of tasks, all NOT_STARTED",
        description:
          `At most ${MAX_TASKS_PER_ROLLOUT} tasks. Nothing runs until POST /rollouts/{rolloutId}/tasks/run. ` +
          "Refused (400, details.errors naming each task): a statement PostgreSQL's parser or Runway's rules refuse, and a schema version " +
          "given twice for one database (DUPLICATE_VERSION).",
        params: ProjectParams,
        body: RolloutCreate,
        response: { 201: Rollout, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { title, stages, stageOrder } = req.body;
      const total = stages.reduce((n, s) => n + s.tasks.length, 0);
      req.audit.detail = { title, stages: stages.length, tasks: total };
      if (total > MAX_TASKS_PER_ROLLOUT) throw invalid(`body/stages has ${total} tasks; at most ${MAX_TASKS_PER_ROLLOUT} per rollout`);
      stages.forEach((s, i) =>
        s.tasks.forEach((t, j) => {
          if (t.type !== TaskType.DATABASE_CREATE && t.statement.trim() === "")
            throw invalid(`body/stages/${i}/tasks/${j}/statement must not be blank for ${t.type}`);
          // Runway builds CREATE DATABASE from the validated name; free-form SQL never runs for this type.
          if (t.type === TaskType.DATABASE_CREATE && t.statement !== "")
            throw invalid(`body/stages/${i}/tasks/${j}/statement must be empty for DATABASE_CREATE: the database is created from its name`);
        }),
      );
      const duplicates = duplicateVersions(stages);
      if (duplicates.length > 0) {
        const { message, details } = refusalSummary(duplicates, "errors");
        throw invalid(message, details);
      }
      const id = await rolloutCreate(
        db,
        {
          projectId: req.params.projectId,
          title,
          createdBy: req.user!.username,
          stages: stages.map((s) => ({ environment: s.environment, tasks: s.tasks })),
          lint: lintForCreate(
            async () => (await checkPolicyGet(db, req.params.projectId)).ruleOverrides,
            stages.flatMap((s) => s.tasks),
          ),
          ...(stageOrder ? { stageOrder } : {}),
        },
        clock.now(),
      );
      req.audit.target = `rollout/${id}`;
      return reply.code(201).send((await rolloutGet(db, id))!);
    },
  );

  app.get(
    "/rollouts/:rolloutId",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A rollout with its stages and task counts by status",
        params: RolloutParams,
        response: { 200: Rollout, ...errorResponses },
      },
    },
    async (req) => {
      const rollout = await rolloutGet(db, req.params.rolloutId);
      if (!rollout) throw notFound(`rollout ${req.params.rolloutId} not found`);
      return rollout;
    },
  );
};

export default rolloutRoutes;
