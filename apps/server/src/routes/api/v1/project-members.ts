import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { projectMemberDelete, projectMemberList, projectMemberSet } from "../../../store/project-members.js";
import {
  errorResponses,
  NoContent,
  ProjectMember,
  ProjectMemberGrant,
  ProjectMemberList,
  ProjectMemberParams,
  ProjectParams,
} from "@runway/shared/schemas";

const tags = ["projects"];

/** Per-project roles (admin only): a grant replaces the user's global role inside one project. */
const projectMemberRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/projects/:projectId/members",
    {
      config: { auth: "admin" },
      schema: {
        tags,
        summary: "Users with a role of their own in the project",
        params: ProjectParams,
        response: { 200: ProjectMemberList, ...errorResponses },
      },
    },
    async (req) => ({ members: await projectMemberList(db, req.params.projectId) }),
  );

  app.put(
    "/projects/:projectId/members/:username",
    {
      config: { auth: "admin", audit: "project.member.grant" },
      schema: {
        tags,
        summary: "Grant a user a role in a project",
        description:
          "Replaces the user's global role in this project (none, viewer or releaser); takes effect at the user's next request. Admins cannot be given one (409).",
        params: ProjectMemberParams,
        body: ProjectMemberGrant,
        response: { 200: ProjectMember, ...errorResponses },
      },
    },
    async (req) => {
      const { projectId, username } = req.params;
      req.audit.target = `project/${projectId}/member/${username}`;
      req.audit.detail = { role: req.body.role };
      return projectMemberSet(db, { projectId, username, role: req.body.role, grantedBy: req.user!.username, now: clock.now() });
    },
  );

  app.delete(
    "/projects/:projectId/members/:username",
    {
      config: { auth: "admin", audit: "project.member.revoke" },
      schema: {
        tags,
        summary: "Revoke a user's project role",
        description: "The global role applies in the project again.",
        params: ProjectMemberParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `project/${req.params.projectId}/member/${req.params.username}`;
      await projectMemberDelete(db, req.params);
      return reply.code(204).send(null);
    },
  );
};

export default projectMemberRoutes;
