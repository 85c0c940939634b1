import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import { scopeExists } from "../../store/scope-exists.js";
import { notFound } from "./api-error.js";
import { projectRefOf } from "./project-ref.js";

const NAMES = { projectId: "project", rolloutId: "rollout", taskId: "task", taskRunId: "task run" } as const;

/**
 * A read under an unknown project, rollout, task or run is a 404 NOT_FOUND, never an empty list: a
 * dashboard opened on a mistyped or stale link must be able to say "this does not exist" (issue 14).
 * Routes that already answer 404 themselves keep doing so; this covers every list under a parent in one
 * place, so a new list route cannot forget it. Runs after authentication and the role checks (so it
 * tells nothing to callers who may not read), and after validation (a malformed id stays a 400).
 */
export default fp(
  async function knownScope(app: FastifyInstance) {
    app.addHook("preHandler", async (req) => {
      if (req.method !== "GET" || !req.user) return;
      const ref = projectRefOf(req);
      if (!ref) return;
      if (await scopeExists(app.ctx.db, ref)) return;
      const [key, id] = Object.entries(ref)[0] as [keyof typeof NAMES, string];
      throw notFound(`${NAMES[key]} ${key === "projectId" ? `"${id}"` : id} not found`);
    });
  },
  { name: "runway-known-scope", dependencies: ["runway-project-access"] },
);
