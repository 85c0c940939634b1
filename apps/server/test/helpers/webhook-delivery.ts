import { expect } from "vitest";
import { WebhookDelivery, type AttemptReport, type WebhookDeliveryDeps } from "../../src/scheduler/webhook-delivery.js";
import type { ApiApp } from "./api-app.js";
import { testSecrets } from "./api.js";
import { waitFor } from "./db.js";

/** The public URL the webhook tests' messages link to. */
export const PUBLIC_URL = "https://runway.example.com";

/** A webhook added through the API by the admin (a generic one comes with its signing secret, shown once). */
export async function addWebhook(api: ApiApp, projectId: string, body: Record<string, unknown>) {
  const res = await api.call(api.admin, {
    method: "POST",
    url: `/api/v1/projects/${projectId}/webhooks`,
    payload: { title: "hook", ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; secret: string | null; signed: boolean };
}

/**
 * A delivery loop driven by the test (runOnce by hand, retries at once); every attempt is reported.
 * `cleanups` gets its drain, so no attempt outlives the test.
 */
export function testDeliverer(api: ApiApp, cleanups: (() => Promise<void>)[], over: Partial<WebhookDeliveryDeps> = {}) {
  const attempts: AttemptReport[] = [];
  const d = new WebhookDelivery({
    db: api.db,
    clock: { now: () => new Date() },
    replicaId: "hooks-a",
    secrets: testSecrets,
    publicUrl: PUBLIC_URL,
    timeoutMs: 2_000,
    backoffMs: () => 0,
    onAttempt: (a) => attempts.push(a),
    ...over,
  });
  cleanups.push(() => d.drain());
  return { d, attempts };
}

/** runOnce until `done` (each round waits for the attempts it started). */
export async function deliverUntil(d: WebhookDelivery, done: () => boolean, what: string): Promise<void> {
  await waitFor(
    async () => {
      await d.runOnce();
      await d.drain();
      return done();
    },
    { what, timeoutMs: 30_000 },
  );
}
