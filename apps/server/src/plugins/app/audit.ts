import fp from "fastify-plugin";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { auditAppend } from "../../store/audit.js";

export interface AuditNote {
  /** What was acted on, e.g. "rollout/12"; defaults to the route's path params. */
  target?: string;
  /** Extra facts (never secrets). */
  detail?: Record<string, unknown>;
  /** Who, when there is no signed-in user yet (the username a login attempt named). */
  actor?: string;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Audit action name; every mutating route sets one. */
    audit?: string;
  }
  interface FastifyRequest {
    audit: AuditNote;
  }
}

/**
 * Requests that never reached the point of acting are not audited: malformed or oversized input (400,
 * 413, 415) and rate-limited calls (429) would let anyone fill the table at wire speed. Denials (401
 * on login, 403), misses and conflicts are: they are who-tried-what facts.
 */
const UNAUDITED = new Set([400, 413, 415, 429]);

function defaultTarget(req: FastifyRequest): string | null {
  const params = Object.entries((req.params ?? {}) as Record<string, string>);
  return params.length === 0 ? null : params.map(([k, v]) => `${k}=${v}`).join(",");
}

/**
 * Appends one audit entry per mutation, in onSend: after the outcome is known and before the client
 * sees it, so a client that got an answer knows it was recorded. The store's write paths own their
 * transactions, so the entry is a separate statement; should it fail, the request's effect stands
 * and the failure is logged loudly.
 */
export default fp(
  async function audit(app: FastifyInstance) {
    app.decorateRequest("audit", null as unknown as AuditNote);
    app.addHook("onRequest", async (req) => {
      req.audit = {};
    });
    app.addHook("onSend", async (req, reply, payload) => {
      const action = req.routeOptions.config.audit;
      if (!action || UNAUDITED.has(reply.statusCode)) return payload;
      // A hook that failed before ours ran (auth) leaves the note unset.
      const note = req.audit ?? {};
      const actor = req.user?.username ?? note.actor;
      if (!actor) return payload;
      const detail: Record<string, unknown> = { ...note.detail };
      if (req.user) detail.via = req.user.via === "token" ? `token/${req.user.tokenId}` : "session";
      try {
        await auditAppend(app.ctx.db, {
          at: app.ctx.clock.now(),
          actor,
          action,
          target: note.target ?? defaultTarget(req),
          outcome: reply.statusCode < 400 ? "SUCCESS" : (req.errorCode ?? `HTTP_${reply.statusCode}`),
          detail,
        });
      } catch (err) {
        req.log.error({ err, action, actor }, "could not write the audit entry");
      }
      return payload;
    });
  },
  { name: "runway-audit", dependencies: ["runway-context"] },
);
