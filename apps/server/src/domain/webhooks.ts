import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { WebhookEventKind, WebhookKind } from "@runway/shared/schemas";

/**
 * Webhook decisions without I/O: the one-line message of an event, the body each kind of endpoint
 * expects, the signature of generic payloads, and when a failed delivery is tried again.
 */

/** Everything a message names, as the delivery loop reads it with the event. */
export interface EventFacts {
  uid: string;
  kind: WebhookEventKind;
  occurredAt: Date;
  projectId: string;
  rollout: { id: string; title: string } | null;
  stage: { id: string; environment: string } | null;
  task: { id: string; instanceId: string; database: string } | null;
  runId: string | null;
  /** The PostgreSQL error of a FAILED run, the waiting cause of a long wait, who paused… */
  facts: Record<string, unknown>;
}

const quote = (s: string, max = 300) => {
  const one = s.replace(/\s+/g, " ").trim();
  return `"${one.length > max ? `${one.slice(0, max - 1)}…` : one}"`;
};

/** The dashboard page the event is about (RUNWAY_PUBLIC_URL + the rollout's route), or null when unset. */
export function eventLink(e: EventFacts, publicUrl: string | null): string | null {
  if (!publicUrl) return null;
  const base = publicUrl.replace(/\/+$/, "");
  if (!e.rollout) return `${base}/projects/${encodeURIComponent(e.projectId)}/rollouts`;
  // The dashboard's rollout page; ?task= opens the task's drawer.
  // An approval names a stage but no task: ?stage= filters the table to the stage's tasks.
  const query = e.task ? `?task=${e.task.id}` : e.stage ? `?stage=${e.stage.id}` : "";
  return `${base}/rollouts/${e.rollout.id}${query}`;
}

/** What happened, in one line: names the rollout, stage, task and database; quotes the error of a failure. */
export function eventMessage(e: EventFacts): string {
  const rollout = e.rollout ? `rollout "${e.rollout.title}" (#${e.rollout.id})` : `project ${e.projectId}`;
  const stage = e.stage ? `, stage ${e.stage.environment}` : "";
  const task = e.task ? `, task #${e.task.id} on ${e.task.instanceId}/${e.task.database}` : "";
  const where = `${rollout}${stage}${task}`;
  const f = e.facts;
  switch (e.kind) {
    case "TASK_RUN_FAILED":
      return `Task run FAILED in ${where}: ${quote(String(f.error ?? "unknown error"))}`;
    case "ROLLOUT_DONE":
      return `Rollout done: every task of ${where} is DONE or SKIPPED`;
    case "ROLLOUT_PAUSED":
      return `Rollout paused: ${where}${f.reason ? `: ${quote(String(f.reason))}` : ""}${f.by ? ` (by ${String(f.by)})` : ""}`;
    case "STAGE_APPROVAL_WAITING": {
      // Who can act on it: the policy's role or above (routes/api/v1/gates.ts), maybe not the creator.
      const role = f.role === "admin" ? "an admin" : f.role === "releaser" ? "a releaser or admin" : "an approver";
      const notCreator = f.approverNotCreator && f.createdBy ? ` other than ${String(f.createdBy)} (the rollout's creator)` : "";
      const of = typeof f.position === "number" && typeof f.stages === "number" ? ` (stage ${f.position} of ${f.stages})` : "";
      return `Stage waiting for approval by ${role}${notCreator}: ${where}${of}`;
    }
    case "RUN_WAITING_LONG":
      return `Run waiting ${String(f.minutes ?? "?")} min on ${String(f.cause ?? "?")}: ${where}`;
    case "TEST":
      return `Test event from Runway for project ${e.projectId}`;
  }
}

/** The JSON body of a generic webhook: everything, ids as strings, plus the id to de-duplicate by. */
export function genericPayload(e: EventFacts, publicUrl: string | null): Record<string, unknown> {
  return {
    id: e.uid,
    type: e.kind,
    occurredAt: e.occurredAt.toISOString(),
    message: eventMessage(e),
    url: eventLink(e, publicUrl),
    projectId: e.projectId,
    rollout: e.rollout,
    stage: e.stage,
    task: e.task,
    runId: e.runId,
    facts: e.facts,
  };
}

/** The body each kind of endpoint expects (their documented incoming-webhook formats). */
export function webhookBody(kind: WebhookKind, e: EventFacts, publicUrl: string | null): Record<string, unknown> {
  const text = eventMessage(e);
  const link = eventLink(e, publicUrl);
  switch (kind) {
    case "slack":
      // Slack's link markup: <url|label>.
      return { text: link ? `${text} <${link}|Open in Runway>` : text };
    case "discord":
      // Discord caps content at 2000 characters.
      return { content: (link ? `${text} ${link}` : text).slice(0, 2000), allowed_mentions: { parse: [] } };
    case "google_chat":
      return { text: link ? `${text} ${link}` : text };
    case "teams":
      // Teams Workflows ("Post to a channel when a webhook request is received"): an Adaptive Card message.
      return {
        type: "message",
        attachments: [
          {
            contentType: "application/vnd.microsoft.card.adaptive",
            content: {
              $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
              type: "AdaptiveCard",
              version: "1.4",
              body: [{ type: "TextBlock", text, wrap: true }],
              actions: link ? [{ type: "Action.OpenUrl", title: "Open in Runway", url: link }] : [],
            },
          },
        ],
      };
    case "generic":
      return genericPayload(e, publicUrl);
  }
}

/** A new signing secret (Standard Webhooks style: `whsec_` + base64 of 32 random bytes). */
export const newSigningSecret = (): string => `whsec_${randomBytes(32).toString("base64")}`;

const keyOf = (secret: string) => Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");

/**
 * The signature headers of a generic delivery (the Standard Webhooks scheme): HMAC-SHA256 with the secret
 * over `<id>.<unix seconds>.<body>`, base64, as `v1,<sig>`. The timestamp is signed, so a receiver can
 * refuse replays older than a few minutes.
 */
export function signatureHeaders(p: { secret: string; id: string; timestamp: number; body: string }): Record<string, string> {
  const sig = createHmac("sha256", keyOf(p.secret)).update(`${p.id}.${p.timestamp}.${p.body}`).digest("base64");
  return { "webhook-id": p.id, "webhook-timestamp": String(p.timestamp), "webhook-signature": `v1,${sig}` };
}

/** What a receiver does (docs/api.md shows the same): true when one of the `v1,` signatures matches and the time is recent. */
export function verifySignature(p: {
  secret: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  nowS: number;
  toleranceS?: number;
}): boolean {
  const h = (n: string) => String(p.headers[n] ?? "");
  const ts = Number(h("webhook-timestamp"));
  if (!Number.isInteger(ts) || Math.abs(p.nowS - ts) > (p.toleranceS ?? 300)) return false;
  const want = Buffer.from(signatureHeaders({ secret: p.secret, id: h("webhook-id"), timestamp: ts, body: p.body })["webhook-signature"]!);
  return h("webhook-signature")
    .split(" ")
    .some((s) => {
      const got = Buffer.from(s);
      return got.length === want.length && timingSafeEqual(got, want);
    });
}

/** Failed deliveries are tried again after 10 s (`baseMs`), doubling, at most an hour (`maxMs`) apart… */
export function deliveryBackoffMs(attempts: number, baseMs = 10_000, maxMs = 3_600_000): number {
  return Math.min(baseMs * 2 ** Math.min(30, Math.max(0, attempts - 1)), maxMs);
}

/** …until 24 h after the event was recorded; then the delivery gives up. */
export const DELIVERY_WINDOW_MS = 24 * 3600 * 1000;

/** After attempt number `attempts` failed: when to try again, or null to give up. */
export function nextAttemptAt(p: {
  now: Date;
  createdAt: Date;
  attempts: number;
  windowMs?: number;
  backoffMs?: (n: number) => number;
}): Date | null {
  const at = p.now.getTime() + (p.backoffMs ?? deliveryBackoffMs)(p.attempts);
  return at - p.createdAt.getTime() > (p.windowMs ?? DELIVERY_WINDOW_MS) ? null : new Date(at);
}
