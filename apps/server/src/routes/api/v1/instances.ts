import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  instanceCreate,
  instanceDelete,
  instanceGet,
  instanceList,
  instancesOnlyIn,
  instanceUpdate,
  projectInstanceAttach,
  projectInstanceDetach,
  type Instance as StoredInstance,
} from "../../../store/instances.js";
import { ApiError, ErrorCode, invalid, notFound } from "../../../plugins/app/api-error.js";
import { TargetRefusedError } from "../../../executors/target-guard.js";
import { testTargetConnection } from "../../../executors/target-test.js";
import { hiddenProjectsOf } from "../../../plugins/app/project-access.js";
import {
  ConnectionTestResult,
  errorResponses,
  Instance,
  InstanceCreate,
  InstanceList,
  InstanceParams,
  InstancePatch,
  NoContent,
  ProjectInstanceParams,
  ProjectParams,
} from "@runway/shared/schemas";

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

const instanceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, trust } = app.ctx;

  const masked = (i: StoredInstance) => {
    let url: string;
    try {
      url = maskConnectionUrl(trust.secrets.open(i.connectionUrl));
    } catch {
      url = MASK; // startup proved the key; a value that still does not open is shown as nothing
    }
    return { ...i, connectionUrl: url };
  };

  /** Refuses a URL that reaches the control plane (checked again at every connect). */
  const checkTarget = async (connectionUrl: string) => {
    try {
      new URL(connectionUrl);
    } catch {
      throw invalid("body/connectionUrl is not a valid URL");
    }
    try {
      await trust.guard.probeUrl(connectionUrl);
    } catch (e) {
      if (e instanceof TargetRefusedError) throw new ApiError(422, ErrorCode.TARGET_REFUSED, e.message, { reason: e.code });
      throw e;
    }
  };

  app.get(
    "/instances",
    {
      config: { auth: "viewer" },
      schema: { tags, summary: "List instances (passwords masked)", response: { 200: InstanceList, ...errorResponses } },
    },
    async (req) => {
      // Instances used only by projects hidden from the caller are hidden too.
      const hidden = await instancesOnlyIn(db, await hiddenProjectsOf(db, req.user!));
      return { instances: (await instanceList(db)).filter((i) => !hidden.has(i.id)).map(masked) };
    },
  );

  app.post(
    "/instances",
    {
      config: { auth: "admin", audit: "instance.create" },
      schema: {
        tags,
        summary: "Register a PostgreSQL instance",
        description:
          "Runway connects once to check the URL is not its own control plane (422 TARGET_REFUSED); an unreachable server is accepted and checked at every connect.",
        body: InstanceCreate,
        response: { 201: Instance, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { id, title, connectionUrl, projectIds = [] } = req.body;
      req.audit.target = `instance/${id}`;
      req.audit.detail = { title, connectionUrl: maskConnectionUrl(connectionUrl), projectIds };
      await checkTarget(connectionUrl);
      return reply.code(201).send(masked(await instanceCreate(db, { id, title, connectionUrl, projectIds }, trust.secrets)));
    },
  );

  app.get(
    "/instances/:instanceId",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "Get an instance (password masked)",
        params: InstanceParams,
        response: { 200: Instance, ...errorResponses },
      },
    },
    async (req) => {
      const instance = await instanceGet(db, req.params.instanceId);
      const hidden = instance ? await instancesOnlyIn(db, await hiddenProjectsOf(db, req.user!)) : new Set<string>();
      if (!instance || hidden.has(instance.id)) throw notFound(`instance "${req.params.instanceId}" not found`);
      return masked(instance);
    },
  );

  app.patch(
    "/instances/:instanceId",
    {
      config: { auth: "admin", audit: "instance.update" },
      schema: {
        tags,
        summary: "Change an instance's title or connection URL",
        description: "A new URL is checked like a new instance's.",
        params: InstanceParams,
        body: InstancePatch,
        response: { 200: Instance, ...errorResponses },
      },
    },
    async (req) => {
      const { title, connectionUrl } = req.body;
      req.audit.target = `instance/${req.params.instanceId}`;
      req.audit.detail = {
        ...(title !== undefined ? { title } : {}),
        ...(connectionUrl !== undefined ? { connectionUrl: maskConnectionUrl(connectionUrl) } : {}),
      };
      if (connectionUrl !== undefined) await checkTarget(connectionUrl);
      const patch = { ...(title !== undefined ? { title } : {}), ...(connectionUrl !== undefined ? { connectionUrl } : {}) };
      return masked(await instanceUpdate(db, req.params.instanceId, patch, trust.secrets));
    },
  );

  app.post(
    "/instances/:instanceId/test",
    {
      config: { auth: "admin", audit: "instance.test" },
      schema: {
        tags,
        summary: "Test the connection to an instance",
        description:
          "Connects once as the instance's role (5 s bound) and reports reachability, the server version and the databases the role may " +
          "connect to. A URL that reaches Runway's own control plane is reported as not reachable, with why.",
        params: InstanceParams,
        response: { 200: ConnectionTestResult, ...errorResponses },
      },
    },
    async (req) => {
      req.audit.target = `instance/${req.params.instanceId}`;
      const instance = await instanceGet(db, req.params.instanceId);
      if (!instance) throw notFound(`instance "${req.params.instanceId}" not found`);
      const result = await testTargetConnection(trust.guard, trust.secrets.open(instance.connectionUrl));
      req.audit.detail = { reachable: result.reachable };
      return result;
    },
  );

  app.delete(
    "/instances/:instanceId",
    {
      config: { auth: "admin", audit: "instance.delete" },
      schema: {
        tags,
        summary: "Delete an instance",
        description: "Its waiting runs fail with a clear result.",
        params: InstanceParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `instance/${req.params.instanceId}`;
      await instanceDelete(db, req.params.instanceId);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/projects/:projectId/instances",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "Instances the project's tasks may use (passwords masked)",
        params: ProjectParams,
        response: { 200: InstanceList, ...errorResponses },
      },
    },
    async (req) => ({ instances: (await instanceList(db, { projectId: req.params.projectId })).map(masked) }),
  );

  app.put(
    "/projects/:projectId/instances/:instanceId",
    {
      config: { auth: "admin", audit: "project.instance.attach" },
      schema: {
        tags,
        summary: "Attach an instance to a project",
        description: "Its tasks may then name the instance. Idempotent.",
        params: ProjectInstanceParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `project/${req.params.projectId}/instance/${req.params.instanceId}`;
      await projectInstanceAttach(db, req.params);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    "/projects/:projectId/instances/:instanceId",
    {
      config: { auth: "admin", audit: "project.instance.detach" },
      schema: {
        tags,
        summary: "Detach an instance from a project",
        description: "New tasks of the project may no longer name it; existing tasks keep running.",
        params: ProjectInstanceParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `project/${req.params.projectId}/instance/${req.params.instanceId}`;
      await projectInstanceDetach(db, req.params);
      return reply.code(204).send(null);
    },
  );
};

export default instanceRoutes;
