import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  DatabaseGroup,
  DatabaseGroupCreate,
  DatabaseGroupList,
  DatabaseGroupParams,
  DatabaseGroupResolution,
  DatabaseGroupRule,
  errorResponses,
  InstanceDatabases,
  InstanceParams,
  NoContent,
  ProjectParams,
} from "@runway/shared/schemas";
import type { TargetReader } from "../../../executors/target-reader.js";
import { resolveGroup } from "../../../domain/group-resolution.js";
import { notFound } from "../../../plugins/app/api-error.js";
import type { AuthUser } from "../../../plugins/app/auth.js";
import { hiddenProjectsOf } from "../../../plugins/app/project-access.js";
import { refreshInstanceDatabases } from "../../../releases/instance-listing.js";
import {
  databaseGroupCreate,
  databaseGroupDelete,
  databaseGroupGet,
  databaseGroupList,
  databaseGroupUpdate,
  type DatabaseGroup as StoredGroup,
} from "../../../store/database-groups.js";
import { instanceDatabasesGet, type InstanceDatabases as StoredList } from "../../../store/instance-databases.js";
import { instanceGet, instancesOnlyIn } from "../../../store/instances.js";

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const listOut = (l: StoredList) => ({ ...l, listedAt: iso(l.listedAt), attemptedAt: iso(l.attemptedAt) });

/** Instance databases (listed on the target) and per-project database groups resolved against them. */
const databaseGroupRoutes: FastifyPluginAsyncTypebox<{ reader: TargetReader }> = async (app, { reader }) => {
  const { db, clock } = app.ctx;

  const visibleInstance = async (user: AuthUser, id: string) => {
    const instance = await instanceGet(db, id);
    const hidden = instance ? await instancesOnlyIn(db, await hiddenProjectsOf(db, user)) : new Set<string>();
    if (!instance || hidden.has(instance.id)) throw notFound(`instance "${id}" not found`);
    return instance;
  };

  app.get(
    "/instances/:instanceId/databases",
    {
      config: { auth: "viewer" },
      schema: {
        tags: ["instances"],
        summary: "The instance's databases as last listed on the target",
        params: InstanceParams,
        response: { 200: InstanceDatabases, ...errorResponses },
      },
    },
    async (req) => {
      await visibleInstance(req.user!, req.params.instanceId);
      return listOut(await instanceDatabasesGet(db, req.params.instanceId));
    },
  );

  app.post(
    "/instances/:instanceId/databases/refresh",
    {
      config: { auth: "releaser", audit: "instance.databases.refresh" },
      schema: {
        tags: ["instances"],
        summary: "List the instance's databases on the target now (with the instance's credentials)",
        description:
          "A failed listing is recorded in `error`; the list stays the previous one. A periodic loop refreshes every instance too.",
        params: InstanceParams,
        response: { 200: InstanceDatabases, ...errorResponses },
      },
    },
    async (req) => {
      req.audit.target = `instance/${req.params.instanceId}`;
      const instance = await visibleInstance(req.user!, req.params.instanceId);
      const r = await refreshInstanceDatabases({ db, reader, clock }, instance);
      req.audit.detail = r;
      return listOut(await instanceDatabasesGet(db, instance.id));
    },
  );

  const withResolution = async (g: StoredGroup) => {
    const list = await instanceDatabasesGet(db, g.instanceId);
    const r = resolveGroup(g, list.databases);
    return { group: g, resolution: { ...r, listedAt: iso(list.listedAt) } };
  };
  const groupOut = (g: StoredGroup, resolved: number) => ({
    name: g.name,
    instanceId: g.instanceId,
    pattern: g.pattern,
    includes: g.includes,
    excludes: g.excludes,
    updatedAt: g.updatedAt.toISOString(),
    resolved,
  });

  app.get(
    "/projects/:projectId/database-groups",
    {
      config: { auth: "viewer" },
      schema: {
        tags: ["database groups"],
        summary: "The project's database groups, each with how many databases it names now",
        params: ProjectParams,
        response: { 200: DatabaseGroupList, ...errorResponses },
      },
    },
    async (req) => {
      const groups = await databaseGroupList(db, req.params.projectId);
      const out = await Promise.all(groups.map(withResolution));
      return { groups: out.map((o) => groupOut(o.group, o.resolution.databases.length)) };
    },
  );

  app.post(
    "/projects/:projectId/database-groups",
    {
      config: { auth: "releaser", audit: "database-group.create" },
      schema: {
        tags: ["database groups"],
        summary: "Create a database group: an instance, a name pattern, includes and excludes",
        params: ProjectParams,
        body: DatabaseGroupCreate,
        response: { 201: DatabaseGroup, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { name, instanceId, pattern, includes = [], excludes = [] } = req.body;
      req.audit.target = `project/${req.params.projectId}/database-group/${name}`;
      req.audit.detail = { instanceId, pattern, includes, excludes };
      const g = await databaseGroupCreate(
        db,
        { projectId: req.params.projectId, name, instanceId, pattern, includes, excludes },
        clock.now(),
      );
      const { resolution } = await withResolution(g);
      return reply.code(201).send(groupOut(g, resolution.databases.length));
    },
  );

  app.put(
    "/projects/:projectId/database-groups/:name",
    {
      config: { auth: "releaser", audit: "database-group.update" },
      schema: {
        tags: ["database groups"],
        summary: "Replace a database group's rule",
        params: DatabaseGroupParams,
        body: DatabaseGroupRule,
        response: { 200: DatabaseGroup, ...errorResponses },
      },
    },
    async (req) => {
      const { instanceId, pattern, includes = [], excludes = [] } = req.body;
      req.audit.target = `project/${req.params.projectId}/database-group/${req.params.name}`;
      req.audit.detail = { instanceId, pattern, includes, excludes };
      const g = await databaseGroupUpdate(db, { ...req.params, instanceId, pattern, includes, excludes }, clock.now());
      const { resolution } = await withResolution(g);
      return groupOut(g, resolution.databases.length);
    },
  );

  app.delete(
    "/projects/:projectId/database-groups/:name",
    {
      config: { auth: "releaser", audit: "database-group.delete" },
      schema: {
        tags: ["database groups"],
        summary: "Delete a database group",
        params: DatabaseGroupParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `project/${req.params.projectId}/database-group/${req.params.name}`;
      await databaseGroupDelete(db, req.params);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/projects/:projectId/database-groups/:name/resolution",
    {
      config: { auth: "viewer" },
      schema: {
        tags: ["database groups"],
        summary: "What the group resolves to now (from the instance's stored database list)",
        params: DatabaseGroupParams,
        response: { 200: DatabaseGroupResolution, ...errorResponses },
      },
    },
    async (req) => {
      const g = await databaseGroupGet(db, req.params);
      if (!g) throw notFound(`database group "${req.params.name}" not found in project "${req.params.projectId}"`);
      return (await withResolution(g)).resolution;
    },
  );

  app.post(
    "/projects/:projectId/database-group-resolution",
    {
      config: { auth: "viewer", audit: "database-group.resolve" },
      schema: {
        tags: ["database groups"],
        summary: "What a rule would resolve to (a group being edited); changes nothing",
        params: ProjectParams,
        body: DatabaseGroupRule,
        response: { 200: DatabaseGroupResolution, ...errorResponses },
      },
    },
    async (req) => {
      const { instanceId, pattern, includes = [], excludes = [] } = req.body;
      await visibleInstance(req.user!, instanceId);
      const list = await instanceDatabasesGet(db, instanceId);
      return { ...resolveGroup({ pattern, includes, excludes }, list.databases), listedAt: iso(list.listedAt) };
    },
  );
};

export default databaseGroupRoutes;
