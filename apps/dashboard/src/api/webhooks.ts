import { request } from "./http";
import type { Webhook, WebhookCreate, WebhookCreated, WebhookDelivery, WebhookUpdate } from "./types";

/** The kinds and events the forms offer (the API's WEBHOOK_KINDS / WEBHOOK_EVENTS, as values). */
export const WEBHOOK_KIND_OPTIONS = ["slack", "teams", "discord", "google_chat", "generic"] as const;
export const WEBHOOK_EVENT_OPTIONS = [
  "TASK_RUN_FAILED",
  "ROLLOUT_DONE",
  "ROLLOUT_PAUSED",
  "STAGE_APPROVAL_WAITING",
  "RUN_WAITING_LONG",
] as const;

const base = (projectId: string) => `/projects/${encodeURIComponent(projectId)}/webhooks`;
const one = (projectId: string, webhookId: string) => `${base(projectId)}/${encodeURIComponent(webhookId)}`;

export async function webhookList(projectId: string): Promise<Webhook[]> {
  return (await request<{ webhooks: Webhook[] }>("GET", base(projectId))).webhooks;
}

export function webhookCreate(projectId: string, body: WebhookCreate): Promise<WebhookCreated> {
  return request<WebhookCreated>("POST", base(projectId), { body });
}

export function webhookUpdate(projectId: string, webhookId: string, body: WebhookUpdate): Promise<Webhook> {
  return request<Webhook>("PATCH", one(projectId, webhookId), { body });
}

export async function webhookDelete(projectId: string, webhookId: string): Promise<void> {
  await request<unknown>("DELETE", one(projectId, webhookId));
}

export async function webhookDeliveries(projectId: string, webhookId: string): Promise<WebhookDelivery[]> {
  return (await request<{ deliveries: WebhookDelivery[] }>("GET", `${one(projectId, webhookId)}/deliveries`)).deliveries;
}

export async function webhookSendTest(projectId: string, webhookId: string): Promise<void> {
  await request<unknown>("POST", `${one(projectId, webhookId)}/test`);
}

export async function webhookRedeliver(projectId: string, webhookId: string, deliveryId: string): Promise<void> {
  await request<unknown>("POST", `${one(projectId, webhookId)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`);
}
