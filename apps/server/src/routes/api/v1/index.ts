import type { FastifyInstance } from "fastify";
import auditRoutes from "./audit-log.js";
import blockerRoutes from "./blockers.js";
import bulkRoutes from "./bulk.js";
import authRoutes from "./auth.js";
import eventRoutes from "./events.js";
import gateRoutes from "./gates.js";
import instanceRoutes from "./instances.js";
import projectRoutes from "./projects.js";
import projectMemberRoutes from "./project-members.js";
import releaseArea from "./release-area.js";
import rolloutRoutes from "./rollouts.js";
import taskRunRoutes from "./task-runs.js";
import taskRoutes from "./tasks.js";
import taskViewRoutes from "./task-views.js";
import tokenRoutes from "./tokens.js";
import userRoutes from "./users.js";
import webhookRoutes from "./webhooks.js";
import retryRoutes from "./retry.js";
import checkRoutes from "./checks.js";
import opsRoutes from "../../ops.js";
import replicaRoutes from "./replicas.js";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Every /api/v1 route. Default-deny: a route that does not say who may call it fails startup. */
export default async function apiV1(app: FastifyInstance): Promise<void> {
  app.addHook("onRoute", (route) => {
    const config = (route.config ?? {}) as { auth?: string; audit?: string };
    const ops = ["/healthz", "/readyz", "/metrics"].some((p) => route.url.endsWith(p));
    if (!ops && route.method !== "HEAD" && config.auth === undefined)
      throw new Error(`route ${String(route.method)} ${route.url} declares no config.auth`);
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((m) => MUTATING.has(m)) && !config.audit)
      throw new Error(`mutating route ${String(route.method)} ${route.url} declares no config.audit`);
  });
  for (const routes of [
    authRoutes,
    userRoutes,
    tokenRoutes,
    auditRoutes,
    projectRoutes,
    projectMemberRoutes,
    instanceRoutes,
    rolloutRoutes,
    taskRoutes,
    taskViewRoutes,
    taskRunRoutes,
    eventRoutes,
    releaseArea,
    webhookRoutes,
    retryRoutes,
    blockerRoutes,
    bulkRoutes,
    checkRoutes,
    gateRoutes,
    replicaRoutes,
  ]) {
    await app.register(routes);
  }
  await app.register(opsRoutes, { hide: true });
}
