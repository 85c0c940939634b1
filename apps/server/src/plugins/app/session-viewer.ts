import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import { PostgresExecutor } from "../../executors/postgres.js";
import type { SessionViewer } from "../../executors/session-view.js";
import type { Trust } from "../../trust.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Reads a running change's target session and its blockers (GET /task-runs/{id}/session). */
    sessionViewer: SessionViewer;
  }
}

/**
 * The replica's executor when it has one (its pools, its target guard and secrets); an app without
 * scheduler loops (tests, tools) gets an executor of its own for this, closed with the app.
 */
export default fp(
  async function sessionViewer(app: FastifyInstance, opts: { viewer?: SessionViewer | undefined; trust: Trust }) {
    if (opts.viewer) {
      app.decorate("sessionViewer", opts.viewer);
      return;
    }
    const own = new PostgresExecutor({ statementTimeoutMs: 0, guard: opts.trust.guard, secrets: opts.trust.secrets });
    app.decorate("sessionViewer", own);
    app.addHook("onClose", () => own.close());
  },
  { name: "runway-session-viewer" },
);
