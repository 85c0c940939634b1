import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import {
  errorResponses,
  NoContent,
  ProjectParams,
  WebhookCreate,
  WebhookCreated,
  WebhookDeliveryList,
  WebhookDeliveryParams,
  WebhookList,
  WebhookParams,
  WebhookUpdate,
  Webhook,
} from "@runway/shared/schemas";
import { eventMessage, newSigningSecret } from "../../../domain/webhooks.js";
import { webhookCreate, webhookDelete, webhookGet, webhookList, webhookUpdate } from "../../../store/webhooks.js";
import { webhookDeliveryList, webhookRedeliver } from "../../../store/webhook-deliveries.js";
import { recordTestEvent } from "../../../store/webhook-events.js";

const tags = ["webhooks"];
const Accepted = Type.Object({ eventId: Type.String({ description: "The test event's internal id" }) });
const DELIVERY_LOG_SIZE = 50;

/** A project's webhooks and their delivery logs (admin only: a webhook sends project data elsewhere). */
const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock, trust } = app.ctx;

  app.get(
    "/projects/:projectId/webhooks",
    {
      config: { auth: "admin" },
      schema: { tags, summary: "The project's webhooks", params: ProjectParams, response: { 200: WebhookList, ...errorResponses } },
    },
    async (req) => ({ webhooks: await webhookList(db, req.params.projectId) }),
  );

  app.post(
    "/projects/:projectId/webhooks",
    {
      config: { auth: "admin", audit: "webhook.create" },
      schema: {
        tags,
        summary: "Add a webhook",
        description:
          "A generic webhook gets a signing secret, returned in this answer only (stored encrypted, never shown again). See docs/api.md for verifying signatures.",
        params: ProjectParams,
        body: WebhookCreate,
        response: { 201: WebhookCreated, ...errorResponses },
      },
    },
    async (req, reply) => {
      const secret = req.body.kind === "generic" ? newSigningSecret() : null;
      const hook = await webhookCreate(
        db,
        { ...req.body, projectId: req.params.projectId, secret, createdBy: req.user!.username, now: clock.now() },
        trust.secrets,
      );
      req.audit.target = `project/${hook.projectId}/webhook/${hook.id}`;
      req.audit.detail = { kind: hook.kind, events: hook.events };
      return reply.code(201).send({ ...hook, secret });
    },
  );

  app.patch(
    "/projects/:projectId/webhooks/:webhookId",
    {
      config: { auth: "admin", audit: "webhook.update" },
      schema: {
        tags,
        summary: "Change a webhook",
        params: WebhookParams,
        body: WebhookUpdate,
        response: { 200: Webhook, ...errorResponses },
      },
    },
    async (req) => {
      req.audit.target = `project/${req.params.projectId}/webhook/${req.params.webhookId}`;
      req.audit.detail = { fields: Object.keys(req.body) };
      return webhookUpdate(db, { ...req.params, patch: req.body });
    },
  );

  app.delete(
    "/projects/:projectId/webhooks/:webhookId",
    {
      config: { auth: "admin", audit: "webhook.delete" },
      schema: {
        tags,
        summary: "Remove a webhook",
        description: "Deliveries not yet made are dropped.",
        params: WebhookParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit.target = `project/${req.params.projectId}/webhook/${req.params.webhookId}`;
      await webhookDelete(db, req.params);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/projects/:projectId/webhooks/:webhookId/deliveries",
    {
      config: { auth: "admin" },
      schema: {
        tags,
        summary: "The webhook's newest deliveries and their last attempts",
        params: WebhookParams,
        response: { 200: WebhookDeliveryList, ...errorResponses },
      },
    },
    async (req) => {
      await webhookGet(db, req.params);
      const rows = await webhookDeliveryList(db, { webhookId: req.params.webhookId, limit: DELIVERY_LOG_SIZE });
      return {
        deliveries: rows.map((r) => ({
          id: r.id,
          eventId: r.event.uid,
          event: r.event.kind,
          message: eventMessage(r.event),
          state: r.state,
          attempts: r.attempts,
          nextAttemptAt: r.nextAttemptAt?.toISOString() ?? null,
          deliveredAt: r.deliveredAt?.toISOString() ?? null,
          createdAt: r.createdAt.toISOString(),
          lastAttempts: r.lastAttempts,
        })),
      };
    },
  );

  app.post(
    "/projects/:projectId/webhooks/:webhookId/test",
    {
      config: { auth: "admin", audit: "webhook.test" },
      schema: {
        tags,
        summary: "Send a test event",
        description: "Recorded and delivered like any event (see the delivery log).",
        params: WebhookParams,
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (req, reply) => {
      await webhookGet(db, req.params);
      req.audit.target = `project/${req.params.projectId}/webhook/${req.params.webhookId}`;
      const eventId = await recordTestEvent(db, { ...req.params, by: req.user!.username, now: clock.now() });
      return reply.code(202).send({ eventId: eventId ?? "" });
    },
  );

  app.post(
    "/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver",
    {
      config: { auth: "admin", audit: "webhook.redeliver" },
      schema: {
        tags,
        summary: "Deliver again",
        description: "Same event id (receivers de-duplicate by it), due now, with a fresh 24 h retry window.",
        params: WebhookDeliveryParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      await webhookGet(db, req.params);
      req.audit.target = `project/${req.params.projectId}/webhook/${req.params.webhookId}/delivery/${req.params.deliveryId}`;
      await webhookRedeliver(db, { webhookId: req.params.webhookId, deliveryId: req.params.deliveryId, now: clock.now() });
      return reply.code(204).send(null);
    },
  );
};

export default webhookRoutes;
