import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { auditList } from "../../../store/audit.js";
import { AuditEntries, AuditQuery, errorResponses } from "@runway/shared/schemas";
import { decodePageToken, nextToken } from "../../../schemas/page-token.js";

const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.ctx;
  app.get(
    "/audit-log",
    {
      config: { auth: "admin" },
      schema: {
        tags: ["auth"],
        summary: "Audit log, newest first",
        description: "One entry per mutation: who (actor), what (action), target, when (at), outcome (SUCCESS or the error code).",
        querystring: AuditQuery,
        response: { 200: AuditEntries, ...errorResponses },
      },
    },
    async (req) => {
      const { actor, action, outcome, q, pageSize = 100, pageToken } = req.query;
      const { entries, more } = await auditList(db, {
        limit: pageSize,
        beforeId: decodePageToken(pageToken),
        ...(actor !== undefined ? { actor } : {}),
        ...(action !== undefined ? { action } : {}),
        ...(outcome !== undefined ? { outcome } : {}),
        ...(q !== undefined ? { q } : {}),
      });
      return { entries, nextPageToken: nextToken(entries, more) };
    },
  );
};

export default auditRoutes;
