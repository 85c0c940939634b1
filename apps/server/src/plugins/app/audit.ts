import fp from "fastify-plugin";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AUDIT_IN_PROGRESS, auditAppend, auditBegin, auditFinish } from "../../store/audit.js";
import { storableText } from "../../http/strict-input.js";
import { ErrorCode } from "./api-error.js";

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
    /** The IN_PROGRESS entry written before the handler ran. */
    auditId?: string;
  }
}

/**
 * Requests refused before they could act are audited only when refused for who they are (401, 403):
 * malformed or oversized input (400, 413, 415) and rate-limited calls (429) would let anyone fill the
 * table at wire speed.
 */
const UNAUDITED = new Set([400, 413, 415, 429]);

/** The path params. A request denied before validation may name anything, hence storableText. */
function defaultTarget(req: FastifyRequest): string | null {
  const params = Object.entries((req.params ?? {}) as Record<string, string>);
  return params.length === 0 ? null : storableText(params.map(([k, v]) => `${k}=${v}`).join(","));
}

/**
 * No action without its audit entry, and no entry silently lost:
 * - before a mutating route's handler runs (preHandler, after auth and validation) an entry is written with
 *   outcome IN_PROGRESS. If that write fails, the handler never runs: the request answers 500 and nothing
 *   changed.
 * - in onSend the entry gets its outcome, target and detail. If that write fails, the action has already
 *   happened (the store's write paths own their transactions, so it cannot be rolled back from here): the
 *   request answers 500 all the same, and the entry stays IN_PROGRESS, which says "attempted, outcome not
 *   recorded" to whoever reads the log.
 * - a request refused before the handler (401/403 from the auth hook) gets one complete entry in onSend;
 *   should that write fail, the refusal becomes a 500.
 */
export default fp(
  async function audit(app: FastifyInstance) {
    const { db, clock } = app.ctx;
    app.decorateRequest("audit", null as unknown as AuditNote);
    app.addHook("onRequest", async (req) => {
      req.audit = {};
    });

    app.addHook("preHandler", async (req) => {
      const action = req.routeOptions.config.audit;
      if (!action) return;
      req.auditId = await auditBegin(db, {
        at: clock.now(),
        action,
        actor: req.user?.username ?? null,
        target: defaultTarget(req),
        clientAddress: req.ip,
      });
    });

    app.addHook("onSend", async (req, reply, payload) => {
      const action = req.routeOptions.config.audit;
      if (!action) return payload;
      // A hook that failed before ours ran (auth) leaves the note unset.
      const note = req.audit ?? {};
      const actor = req.user?.username ?? note.actor ?? null;
      if (req.auditId === undefined && (UNAUDITED.has(reply.statusCode) || !actor)) return payload;
      const detail: Record<string, unknown> = { ...note.detail };
      if (req.user) detail.via = req.user.via === "token" ? `token/${req.user.tokenId}` : "session";
      const fields = {
        actor,
        target: note.target ?? defaultTarget(req),
        outcome: reply.statusCode < 400 ? "SUCCESS" : (req.errorCode ?? `HTTP_${reply.statusCode}`),
        detail,
      };
      try {
        if (req.auditId !== undefined) {
          if (!(await auditFinish(db, req.auditId, fields))) throw new Error(`audit entry ${req.auditId} is gone`);
        } else {
          await auditAppend(db, { ...fields, at: clock.now(), action, clientAddress: req.ip });
        }
        return payload;
      } catch (err) {
        return auditFailed(req, reply, err, action);
      }
    });
  },
  { name: "runway-audit", dependencies: ["runway-context"] },
);

/** Replaces the answer with a 500: a client must never see success for an action whose record is missing. */
function auditFailed(req: FastifyRequest, reply: FastifyReply, err: unknown, action: string): string {
  const applied = req.auditId !== undefined && reply.statusCode < 400;
  req.log.error({ err, action, auditId: req.auditId, statusCode: reply.statusCode }, "could not write the audit entry; answering 500");
  req.errorCode = ErrorCode.INTERNAL;
  reply.code(500).header("content-type", "application/json; charset=utf-8");
  const message = applied
    ? `the action was carried out but its audit entry ${req.auditId} could not be completed (it stays ${AUDIT_IN_PROGRESS}); check before retrying`
    : "the audit entry could not be written; nothing was done";
  return JSON.stringify({ error: { code: ErrorCode.INTERNAL, message } });
}
