import { Type, type Static } from "typebox";
import { Id, Nullable, Slug, Text, Timestamp } from "./common.js";

/** Where a webhook posts and in which format: chat services get a one-line message, `generic` a signed JSON event. */
export const WEBHOOK_KINDS = ["slack", "teams", "discord", "google_chat", "generic"] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];

/**
 * What a webhook can be told. ROLLOUT_PAUSED is recorded by the pause (store `recordEvent`),
 * STAGE_APPROVAL_WAITING by the pending pass that first holds a stage's run for an approval (store
 * `approvalWaitsRecord`); TEST is the "send test event" button's.
 */
export const WEBHOOK_EVENTS = ["TASK_RUN_FAILED", "ROLLOUT_DONE", "ROLLOUT_PAUSED", "STAGE_APPROVAL_WAITING", "RUN_WAITING_LONG"] as const;
export type WebhookEventKind = (typeof WEBHOOK_EVENTS)[number] | "TEST";

export const WebhookKindSchema = Type.Enum([...WEBHOOK_KINDS], { description: "Payload format" });
export const WebhookEventSchema = Type.Enum([...WEBHOOK_EVENTS], { description: "An event a webhook can be sent" });

const Url = Type.String({
  minLength: 8,
  maxLength: 2000,
  pattern: "^https?://[^\\s\\u0000]+$",
  description: "Where events are POSTed (http or https)",
  examples: ["https://hooks.slack.com/services/T000/B000/XXXX"],
});
const Events = Type.Array(WebhookEventSchema, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true });
const WaitAlertMinutes = Type.Integer({
  minimum: 1,
  maximum: 10080,
  description: "RUN_WAITING_LONG: a run waiting on one cause longer than this is reported (once per cause)",
});

export const Webhook = Type.Object({
  id: Id("Webhook id"),
  projectId: Slug("Project id", "payments"),
  title: Text(1, 200),
  url: Url,
  kind: WebhookKindSchema,
  events: Events,
  waitAlertMinutes: WaitAlertMinutes,
  enabled: Type.Boolean(),
  /** Whether payloads are signed; the secret itself is shown once, in the creation answer. */
  signed: Type.Boolean(),
  createdBy: Type.String(),
  createdAt: Timestamp(),
});
export type Webhook = Static<typeof Webhook>;

/** The creation answer: the only time the signing secret is shown. */
export const WebhookCreated = Type.Intersect([
  Webhook,
  Type.Object({ secret: Nullable(Type.String({ description: "Signing secret (generic webhooks); never shown again" })) }),
]);
export type WebhookCreated = Static<typeof WebhookCreated>;

export const WebhookList = Type.Object({ webhooks: Type.Array(Webhook) });
export type WebhookList = Static<typeof WebhookList>;

export const WebhookCreate = Type.Object(
  {
    title: Text(1, 200),
    url: Url,
    kind: WebhookKindSchema,
    events: Events,
    waitAlertMinutes: Type.Optional(WaitAlertMinutes),
  },
  {
    additionalProperties: false,
    examples: [
      { title: "Release channel", url: "https://hooks.slack.com/services/T000/B000/XXXX", kind: "slack", events: ["TASK_RUN_FAILED"] },
    ],
  },
);
export type WebhookCreate = Static<typeof WebhookCreate>;

export const WebhookUpdate = Type.Object(
  {
    title: Type.Optional(Text(1, 200)),
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    waitAlertMinutes: Type.Optional(WaitAlertMinutes),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type WebhookUpdate = Static<typeof WebhookUpdate>;

export const WebhookParams = Type.Object({ projectId: Slug("Project id", "payments"), webhookId: Id("Webhook id") });
export const WebhookDeliveryParams = Type.Object({
  projectId: Slug("Project id", "payments"),
  webhookId: Id("Webhook id"),
  deliveryId: Id("Delivery id"),
});

export const WebhookAttempt = Type.Object({
  at: Timestamp(),
  replicaId: Type.String(),
  statusCode: Nullable(Type.Integer()),
  durationMs: Type.Integer({ minimum: 0 }),
  error: Nullable(Type.String()),
  ok: Type.Boolean(),
});
export type WebhookAttempt = Static<typeof WebhookAttempt>;

export const WebhookDelivery = Type.Object({
  id: Id("Delivery id"),
  eventId: Type.String({ description: "The event's id (uuid): the same on every attempt, for de-duplication" }),
  event: Type.String({ description: "Event kind (or TEST)" }),
  message: Type.String({ description: "The one-line message" }),
  state: Type.Enum(["PENDING", "DELIVERED", "GAVE_UP"]),
  attempts: Type.Integer({ minimum: 0 }),
  nextAttemptAt: Nullable(Timestamp()),
  deliveredAt: Nullable(Timestamp()),
  createdAt: Timestamp(),
  lastAttempts: Type.Array(WebhookAttempt, { description: "Newest first, at most 5" }),
});
export type WebhookDelivery = Static<typeof WebhookDelivery>;
export const WebhookDeliveryList = Type.Object({ deliveries: Type.Array(WebhookDelivery) });
export type WebhookDeliveryList = Static<typeof WebhookDeliveryList>;
