import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { projectCreate, projectDelete, projectGet, projectList, projectUpdate } from "../../../store/projects.js";
import { notFound } from "../../../plugins/app/api-error.js";
import { errorResponses, NoContent, Project, ProjectCreate, ProjectList, ProjectParams, ProjectPatch } from "@runway/shared/schemas";
import { effectiveRole } from "../../../plugins/app/project-access.js";
import { projectGrantsOf } from "../../../store/project-members.js";

const tags = ["projects"];

const projectRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/projects",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "List projects",
        description: "Only the projects the caller may see (a `none` project role hides one).",
        response: { 200: ProjectList, ...errorResponses },
      },
    },
    async (req) => {
      const grants = req.user!.role === "admin" ? {} : await projectGrantsOf(db, req.user!.username);
      return { projects: (await projectList(db)).filter((p) => effectiveRole(req.user!, grants[p.id]) !== "none") };
    },
  );

  app.post(
    "/projects",
    {
      config: { auth: "admin", audit: "project.create" },
      schema: { tags, summary: "Create a project", body: ProjectCreate, response: { 201: Project, ...errorResponses } },
    },
    async (req, reply) => {
      const { id, title, parallelTasksPerRollout = 0 } = req.body;
      req.audit.target = `project/${id}`;
      req.audit.detail = { title, parallelTasksPerRollout };
      return reply.code(201).send(await projectCreate(db, { id, title, parallelTasksPerRollout }));
    },
  );

  app.get(
    "/projects/:projectId",
    {
      config: { auth: "viewer" },
      schema: { tags, summary: "Get a project", params: ProjectParams, response: { 200: Project, ...errorResponses } },
    },
    async (req) => {
      const project = await projectGet(db, req.params.projectId);
      if (!project) throw notFound(`project "${req.params.projectId}" not found`);
      return project;
    },
  );

  app.patch(
    "/projects/:projectId",
    {
      config: { auth: "admin", audit: "project.update" },
      schema: {
        tags,
        summary: "Change a project's title or parallel limit",
        description: "A new limit applies to waiting runs at the next scheduler pass.",
        params: ProjectParams,
        body: ProjectPatch,
        response: { 200: Project, ...errorResponses },
      },
    },
    async (req) => {
      req.audit.target = `project/${req.params.projectId}`;
      req.audit.detail = { ...req.body };
      const { title, parallelTasksPerRollout } = req.body;
      return projectUpdate(
        db,
        req.params.projectId,
        { ...(title !== undefined ? { title } : {}), ...(parallelTasksPerRollout !== undefined ? { parallelTasksPerRollout } : {}) },
        clock.now(),
      );
    },
  );

  app.delete(
    "/projects/:projectId",
    {
      config: { auth: "admin", audit: "project.delete" },
      schema: {
        tags,
        summary: "Delete a project",
        description: "Its waiting runs fail with a clear result; history stays readable.",
        params: ProjectParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `project/${req.params.projectId}`;
      await projectDelete(db, req.params.projectId);
      return reply.code(204).send(null);
    },
  );
};

export default projectRoutes;
