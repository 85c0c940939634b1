import type { FastifyInstance } from "fastify";
import { TargetReader } from "../../../executors/target-reader.js";
import databaseGroupRoutes from "./database-groups.js";
import releaseRoutes from "./releases.js";

/**
 * Issue 16's routes share one reader of targets (bounded parallelism, the target guard's verdicts cached
 * between a preview and the create that follows it), closed with the app.
 */
export default async function releaseArea(app: FastifyInstance): Promise<void> {
  const reader = new TargetReader({ guard: app.ctx.trust.guard, secrets: app.ctx.trust.secrets });
  app.addHook("onClose", () => reader.close());
  await app.register(databaseGroupRoutes, { reader });
  await app.register(releaseRoutes, { reader });
}
