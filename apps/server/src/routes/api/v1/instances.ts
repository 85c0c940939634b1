import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { instanceCreate, instanceDelete, instanceGet, instanceList, type Instance as StoredInstance } from "../../../store/instances.js";
import { invalid, notFound } from "../../../plugins/app/api-error.js";
import { errorResponses, Instance, InstanceCreate, InstanceList, InstanceParams, NoContent } from "@runway/shared/schemas";

const tags = ["instances"];
const MASK = "****";

/** The password is write-only: it leaves the server neither in the userinfo nor as a `password=` parameter. */
export function maskConnectionUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = MASK;
    for (const key of [...url.searchParams.keys()]) if (key.toLowerCase() === "password") url.searchParams.set(key, MASK);
    return url.toString();
  } catch {
    return MASK;
  }
}

const masked = (i: StoredInstance) => ({ ...i, connectionUrl: maskConnectionUrl(i.connectionUrl) });

const instanceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.ctx;

  app.get(
    "/instances",
    { config: { auth: "viewer" }, schema: { tags, summary: "List instances (passwords masked)", response: { 200: InstanceList, ...errorResponses } } },
    async () => ({ instances: (await instanceList(db)).map(masked) }),
  );

  app.post(
    "/instances",
    { config: { auth: "admin", audit: "instance.create" }, schema: { tags, summary: "Register a PostgreSQL instance", body: InstanceCreate, response: { 201: Instance, ...errorResponses } } },
    async (req, reply) => {
      const { id, title, connectionUrl } = req.body;
      req.audit.target = `instance/${id}`;
      req.audit.detail = { title, connectionUrl: maskConnectionUrl(connectionUrl) };
      try {
        new URL(connectionUrl);
      } catch {
        throw invalid("body/connectionUrl is not a valid URL");
      }
      return reply.code(201).send(masked(await instanceCreate(db, { id, title, connectionUrl })));
    },
  );

  app.get(
    "/instances/:instanceId",
    { config: { auth: "viewer" }, schema: { tags, summary: "Get an instance (password masked)", params: InstanceParams, response: { 200: Instance, ...errorResponses } } },
    async (req) => {
      const instance = await instanceGet(db, req.params.instanceId);
      if (!instance) throw notFound(`instance "${req.params.instanceId}" not found`);
      return masked(instance);
    },
  );

  app.delete(
    "/instances/:instanceId",
    {
      config: { auth: "admin", audit: "instance.delete" },
      schema: { tags, summary: "Delete an instance", description: "Its waiting runs fail with a clear result.", params: InstanceParams, response: { 204: NoContent, ...errorResponses } },
    },
    async (req, reply) => {
      req.audit.target = `instance/${req.params.instanceId}`;
      await instanceDelete(db, req.params.instanceId);
      return reply.code(204).send(null);
    },
  );
};

export default instanceRoutes;
